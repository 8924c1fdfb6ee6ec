"""The command-line contract, run as real processes on a fresh config."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from conftest import DRIVERHOME


def run(cfg, *args, stdin: str | None = None, check: bool = True, env: dict | None = None):
    """`driverhome --config cfg ARGS`; `env` adds to the environment."""
    proc = subprocess.run([DRIVERHOME, "--config", str(cfg), *args], input=stdin, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ask_jsonl_with_kb_file_answers_and_writes_nothing(make_config, sample_kb, tmp_path):
    cfg = make_config(dense=True)
    lines = [{"text": "龙溪大道限高多少米"}, {"text": "谢谢书记"}, "not json", {"text": "党费咋个交"}, {"q": "党费"}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else x for x in lines) + "\n"
    out = run(cfg, "ask", "--kb", str(sample_kb), "--jsonl", stdin=stdin).stdout.splitlines()
    assert len(out) == 5
    first, second, bad, fourth, no_text = (json.loads(line) for line in out)
    assert first["decision"] == "answer" and first["faq_id"] == "longxi-height"
    assert first["answer"].startswith("龙溪大道") and isinstance(first["score"], float)
    assert set(first) == {"text", "decision", "faq_id", "score", "suggestions", "answer"}
    assert second["decision"] == "silent" and second["answer"] is None
    assert "not JSON" in bad["error"]
    assert fourth["faq_id"] == "party-dues"
    assert no_text == {"text": None, "error": 'bad input line: expected an object with a string "text"'}
    assert not (tmp_path / "data" / "test.db").exists()


def test_ask_with_a_partly_bad_kb_file_uses_the_good_entries(make_config, tmp_path):
    kb = tmp_path / "kb.yml"
    kb.write_text("faqs:\n"
                  "  - {id: ETC-Apply, question: 货车怎么办理ETC？, answer: 带行驶证到银行网点办理。}\n"
                  "  - {id: empty-one, question: 党费交多少？, answer: ''}\n", encoding="utf-8")
    proc = run(make_config(), "ask", "--kb", str(kb), "货车ETC咋个办")
    assert json.loads(proc.stdout)["faq_id"] == "ETC-Apply"
    assert "empty-one" in proc.stderr and "skipped" in proc.stderr
    kb.write_text("faqs:\n  - {id: empty-one, question: 党费交多少？, answer: ''}\n", encoding="utf-8")
    failed = run(make_config(), "ask", "--kb", str(kb), "党费交多少", check=False)
    assert failed.returncode != 0 and "no valid entries" in failed.stderr and "Traceback" not in failed.stderr


def test_validate_reports_bad_entries_and_fails(make_config, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("faqs:\n  - id: x\n    question: q\n    answer: ''\n  - id: x\n    question: q\n    answer: a\n",
                   encoding="utf-8")
    proc = run(make_config(), "kb", "validate", str(bad), check=False)
    assert proc.returncode != 0
    assert "entry #1 (x): answer" in proc.stdout and "duplicate" in proc.stdout


def test_import_export_reindex_roundtrip(make_config, sample_kb, tmp_path):
    cfg = make_config()
    first = run(cfg, "kb", "import", str(sample_kb)).stdout
    # a fresh database is seeded from the shipped FAQ file first, then the file is upserted
    assert "added" in first
    changed = yaml.safe_load(sample_kb.read_text(encoding="utf-8"))
    changed["faqs"][0]["answer"] = "龙溪大道限高架高5米，超高车辆请绕行。"
    changed["faqs"] = changed["faqs"][:2]
    f2 = tmp_path / "changed.yml"
    f2.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    second = run(cfg, "kb", "import", str(f2)).stdout
    assert "added 0, updated 1, removed 0, unchanged 1" in second
    out = tmp_path / "out.yml"
    run(cfg, "kb", "export", str(out))
    exported = {e["id"]: e for e in yaml.safe_load(out.read_text(encoding="utf-8"))["faqs"]}
    assert exported["longxi-height"]["answer"].endswith("请绕行。")
    assert "party-dues" in exported  # upsert keeps what the file does not mention
    nowhere = run(cfg, "kb", "export", str(tmp_path / "no-such-folder" / "out.yml"), check=False)
    assert nowhere.returncode != 0 and "cannot write" in nowhere.stderr and "Traceback" not in nowhere.stderr
    third = run(cfg, "kb", "import", "--replace", str(f2)).stdout
    assert "removed" in third and "removed 0" not in third
    assert "indexed 2 entries" in run(cfg, "kb", "reindex").stdout
    asked = json.loads(run(cfg, "ask", "龙溪大道限高多少").stdout)
    assert asked["answer"].endswith("请绕行。")


def test_eval_prints_the_figures(make_config, sample_kb, tmp_path):
    q = tmp_path / "q.yml"
    q.write_text("queries:\n  - {q: 龙溪大道限高多少, expect: longxi-height}\n  - {q: 早上好, expect: null}\n",
                 encoding="utf-8")
    out = run(make_config(), "kb", "eval", "--kb", str(sample_kb), "--queries", str(q)).stdout
    assert "top-1 accuracy (in scope):        1.000" in out
    assert "out-of-scope silence:             1.000" in out
    assert "p95" in out


def test_eval_names_bad_queries_and_unknown_ids(make_config, sample_kb, tmp_path):
    cfg, q = make_config(), tmp_path / "q.yml"
    q.write_text("queries: [\n", encoding="utf-8")
    proc = run(cfg, "kb", "eval", "--kb", str(sample_kb), "--queries", str(q), check=False)
    assert proc.returncode != 0 and "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr

    q.write_text("queries:\n  - {q: 龙溪大道限高多少, expect: longxi-height}\n  - {expect: party-dues}\n"
                 "  - {q: 党费, expect: [a, b]}\n", encoding="utf-8")
    proc = run(cfg, "kb", "eval", "--kb", str(sample_kb), "--queries", str(q), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "queries[1]: needs a text `q`" in proc.stderr
    assert "queries[2]: `expect` must be an entry id or null" in proc.stderr

    q.write_text("queries:\n  - {q: 龙溪大道限高多少, expect: longxi-height}\n  - {q: 党费咋交, expect: party-due}\n",
                 encoding="utf-8")
    proc = run(cfg, "kb", "eval", "--kb", str(sample_kb), "--queries", str(q))
    assert "1 expected id(s) not in the knowledge base" in proc.stderr and "party-due" in proc.stderr
    assert "top-1 accuracy (in scope):        0.500" in proc.stdout  # the typo counts as a miss


def test_bad_config_names_the_key(make_config):
    cfg = make_config("retrieval_typo: 1\n")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("dense: false", "dense: false\n  answer_threshold: high"),
                   encoding="utf-8")
    proc = run(cfg, "kb", "reindex", check=False)
    assert proc.returncode != 0
    assert "retrieval.answer_threshold" in proc.stderr and "retrieval_typo: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_naming_missing_files_names_the_keys(make_config, tmp_path):
    """A config moved away from the files it names (relative paths are relative to the
    config's folder) must stop with the keys, not start with an empty knowledge base."""
    cfg = make_config("study:\n  library_file: lessons/\n")
    text = cfg.read_text(encoding="utf-8")
    faq_line = next(line for line in text.splitlines() if "faq_file" in line)
    cfg.write_text(text.replace(faq_line, "  faq_file: kb/faq.yml"), encoding="utf-8")
    proc = run(cfg, "chat", stdin="/quit\n", check=False)
    assert proc.returncode != 0
    assert f"knowledge_base.faq_file: not found: {tmp_path / 'kb' / 'faq.yml'}" in proc.stderr
    assert f"study.library_file: not found: {tmp_path / 'lessons'}" in proc.stderr
    assert "nlu.data_file" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "test.db").exists()  # stopped before touching storage

    cfg.write_text(cfg.read_text(encoding="utf-8").replace("library_file: lessons/", "enabled: false"),
                   encoding="utf-8")
    proc = run(cfg, "chat", stdin="/quit\n", check=False)
    assert "study.library_file" not in proc.stderr  # study off: its library is not needed
    assert "knowledge_base.faq_file: not found" in proc.stderr


def test_database_url_problems_are_one_clear_line(make_config):
    cfg = make_config()
    for url, expected in [("mysql://x@localhost/driverhome", "DATABASE_URL: only SQLite"),
                          ("postgresql://nobody@127.0.0.1:1/driverhome", "cannot reach the database: connection")]:
        proc = run(cfg, "kb", "reindex", check=False, env={"DATABASE_URL": url})
        assert proc.returncode != 0, url
        assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
