"""Command-line entry points of the NLU component, registered on `driverhome` in bot/cli.py:
`classify` (one message, or JSON lines) and the `nlu` group (`nlu eval`).

Both take the app's Settings object through click's pass_obj and read its `nlu` section
(NluSettings defaults while the section does not exist)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from bot.jsonl import texts as jsonl_texts

from .settings import NluSettings

BACKENDS = click.Choice(["embedded", "rasa", "auto"])
REPO = Path(__file__).resolve().parent.parent  # where .venv-rasa and nlu/models live


def _nlu_settings(settings) -> tuple[NluSettings, Path]:
    return getattr(settings, "nlu", None) or NluSettings(), Path(getattr(settings, "root", Path(".")))


def open_service(settings, backend: str | None):
    """An NluService; with backend `rasa`, fails with one line when the server is not up."""
    from .rasa_backend import RasaUnavailable
    from .service import NluService

    nlu, root = _nlu_settings(settings)
    try:
        service = NluService(nlu, root, backend=backend)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot load the NLU model: {exc}") from None
    if service.backend == "rasa":
        try:
            service.check_rasa_sync()
        except RasaUnavailable as exc:
            service.close()
            raise click.ClickException(f"Rasa server not reachable at {nlu.rasa_url} ({exc}); "
                                       "start it with `make rasa-serve`") from None
    return service


@click.command("classify")
@click.option("--backend", type=BACKENDS, default=None, help="Override nlu.backend from the config.")
@click.option("--jsonl", is_flag=True, help='Read {"text": ...} per line on stdin, write one JSON line each.')
@click.argument("text", required=False)
@click.pass_obj
def classify_command(settings, backend: str | None, jsonl: bool, text: str | None) -> None:
    """Question, complaint or chit-chat? Category, urgency and entities, as JSON."""
    if not jsonl and not text:
        raise click.UsageError("give TEXT or use --jsonl")
    service = open_service(settings, backend)
    try:
        if not jsonl:
            click.echo(json.dumps({"text": text, **service.parse_sync(text).as_json()}, ensure_ascii=False))
            return
        for query, error in jsonl_texts(sys.stdin):
            if error is not None:
                click.echo(json.dumps({"text": None, "error": error}, ensure_ascii=False))
                continue
            click.echo(json.dumps({"text": query, **service.parse_sync(query).as_json()}, ensure_ascii=False))
            sys.stdout.flush()
    finally:
        service.close()


@click.group("nlu")
def nlu_group() -> None:
    """Message understanding (questions, complaints, chit-chat)."""


@nlu_group.command("eval")
@click.option("--backend", "backends", type=BACKENDS, multiple=True,
              help="Backend(s) to evaluate (repeatable). Default: embedded, and rasa when its server is up.")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Labelled messages (default: nlu/data/test_messages.yml).")
@click.option("--show-failures", is_flag=True, help="List every message with a wrong kind, category or urgency.")
@click.option("--rasa-report", is_flag=True, help="Also run `rasa test nlu` in .venv-rasa and say where the report is.")
@click.pass_obj
def nlu_eval(settings, backends: tuple[str, ...], file: Path | None, show_failures: bool, rasa_report: bool) -> None:
    """Accuracy by kind, complaint precision/recall, urgent recall, category accuracy,
    macro-F1, confusion matrix and p50/p95 latency, per backend."""
    from .evaluate import evaluate, load_messages

    nlu, root = _nlu_settings(settings)
    file = file or REPO / "nlu" / "data" / "test_messages.yml"
    try:
        messages = load_messages(file)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    explicit = bool(backends)
    for backend in backends or ("embedded", "rasa"):
        if not explicit and backend == "rasa":
            service = _try_rasa(settings)
            if service is None:
                click.echo(f"backend rasa: server not reachable at {nlu.rasa_url}, skipped")
                continue
        else:
            service = open_service(settings, backend)
        try:
            if service.embedded is not None:
                service.parse_sync("预热")  # first call pays one-off costs (jieba, OpenCC)
            report = evaluate(service.parse_sync, messages, backend)
        finally:
            service.close()
        for line in report.lines():
            click.echo(line)
        if backend == "auto":
            click.echo(f"  fallbacks to embedded: {service.fallbacks}")
        if show_failures:
            for f in report.failures:
                click.echo("  " + json.dumps(f, ensure_ascii=False))
    if rasa_report:
        _rasa_report(messages, root)


def _try_rasa(settings):
    try:
        return open_service(settings, "rasa")
    except click.ClickException:
        return None


def _rasa_report(messages: list[dict], root: Path) -> None:
    """`rasa test nlu` on the messages (converted to Rasa's format) into data/nlu-report."""
    import yaml

    rasa = REPO / ".venv-rasa" / "bin" / "rasa"
    model = REPO / "nlu" / "models" / "current.tar.gz"
    if not rasa.exists() or not model.exists():
        raise click.ClickException("no .venv-rasa or trained model: run `make rasa-train` first")
    out = (root / "data" / "nlu-report").resolve()
    out.mkdir(parents=True, exist_ok=True)
    by_intent: dict[str, list[str]] = {}
    for m in messages:
        by_intent.setdefault(m["intent"], []).append(m["text"])
    nlu = [{"intent": i, "examples": "".join(f"- {t}\n" for t in texts)} for i, texts in by_intent.items()]
    test_file = out / "test_nlu.yml"
    test_file.write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False),
                         encoding="utf-8")
    click.echo(f"running rasa test nlu ({len(messages)} messages) ...")
    proc = subprocess.run([str(rasa), "test", "nlu", "--nlu", str(test_file), "--model", str(model),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise click.ClickException("rasa test nlu failed:\n" + "\n".join(tail))
    click.echo(f"Rasa report: {out} (intent_report.json, intent_confusion_matrix.png, intent_errors.json)")
