"""`classify` and `nlu eval` through a small click group like bot/cli.py's `main`, end to
end in a subprocess (stdin -> JSON lines on stdout)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for bot/cli.py's `main`: loads the settings into ctx.obj, adds the commands.
GROUP = """
import sys, types, click
from pathlib import Path
from nlu.cli import classify_command, nlu_group
from nlu.settings import NluSettings

ROOT = Path(sys.argv.pop(1))

@click.group()
@click.option("--rasa-url", default="http://127.0.0.1:5005")
@click.pass_context
def main(ctx, rasa_url):
    ctx.obj = types.SimpleNamespace(root=ROOT, nlu=NluSettings(rasa_url=rasa_url))

main.add_command(classify_command)
main.add_command(nlu_group)
main()
"""


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", GROUP, str(ROOT), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_classify_jsonl_schema():
    lines = ['{"text": "老板欠我四千二运费 贵A·12345"}', '{"text": "運費被拖欠一般怎麼處理？"}',
             "not json", '{"text": "有人正在偷我的油 快来人"}', ""]
    proc = _run("classify", "--backend", "embedded", "--jsonl", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert out[2] == {"text": None, "error": out[2]["error"]}
    good = [o for o in out if o["text"]]
    for o in good:
        assert set(o) == {"text", "kind", "intent", "confidence", "category", "urgent", "entities", "backend", "asks"}
        assert isinstance(o["urgent"], bool) and o["backend"] == "embedded"
        for e in o["entities"]:
            assert set(e) == {"entity", "value", "start", "end"}
            assert o["text"][e["start"]:e["end"]]
    assert (good[0]["kind"], good[0]["category"]) == ("complaint", "freight_payment")
    assert {(e["entity"], e["value"]) for e in good[0]["entities"]} == {("amount", "4200"), ("plate", "贵A12345")}
    assert good[1]["kind"] == "question" and good[1]["category"] is None
    assert good[2]["urgent"] is True


def test_classify_one_text():
    proc = _run("classify", "--backend", "embedded", "大家好")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "chitchat"


def test_classify_rasa_down_fails_with_one_line():
    proc = _run("--rasa-url", f"http://127.0.0.1:{_free_port()}", "classify", "--backend", "rasa", "大家好")
    assert proc.returncode != 0 and proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "Rasa server not reachable" in err[0]


def test_classify_auto_falls_back_when_rasa_is_down():
    proc = _run("--rasa-url", f"http://127.0.0.1:{_free_port()}", "classify", "--backend", "auto", "大家好")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["backend"] == "embedded"


def test_nlu_eval_embedded():
    proc = _run("--rasa-url", f"http://127.0.0.1:{_free_port()}", "nlu", "eval")
    assert proc.returncode == 0, proc.stderr
    for part in ("backend embedded: 202 messages", "complaint precision", "urgent recall", "category accuracy",
                 "macro-F1", "p95", "confusion", "backend rasa: server not reachable"):
        assert part in proc.stdout, proc.stdout
