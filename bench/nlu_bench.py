"""NLU benchmark: `python -m bench.nlu_bench` prints the evaluation table (kind accuracy,
macro-F1, complaint precision/recall, urgent recall, category accuracy, p50/p95 latency)
for the embedded backend and, when its server is up, Rasa, on the held-out sets in
nlu/data/. Figures are printed, nothing is asserted (tests/test_nlu_*.py assert)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {"test": ROOT / "nlu" / "data" / "test_messages.yml",
        "unseen": ROOT / "nlu" / "data" / "unseen_messages.yml"}


async def _rasa_rows(settings, sets) -> list:
    from nlu.evaluate import evaluate_async
    from nlu.rasa_backend import RasaUnavailable
    from nlu.service import NluService

    svc = NluService(settings, ROOT, backend="rasa")
    try:
        try:
            await svc.check_rasa()
        except RasaUnavailable as exc:
            print(f"rasa: server not reachable at {settings.rasa_url} ({exc}); start it with `make rasa-serve`")
            return []
        await svc.parse("预热")
        return [(name, await evaluate_async(svc.parse, msgs, "rasa")) for name, msgs in sets.items()]
    finally:
        await svc.aclose()


def _per_message(model, texts: list[str]) -> None:
    """CPU per message of the embedded backend (best of 5 passes over the held-out texts):
    the whole parse, its classifier alone, and the scikit-learn reference for the classifier."""
    import timeit

    if not texts:
        return
    for label, fn in (("parse", model.parse), ("scores", model.scores),
                      ("scores via scikit-learn (reference)", model.reference_scores)):
        best = min(timeit.repeat(lambda: [fn(t) for t in texts], number=1, repeat=5))
        print(f"embedded: {label}: {best / len(texts) * 1000:.3f} ms/message ({len(texts)} messages, timeit)")


def main() -> None:
    from nlu.embedded import EmbeddedNlu
    from nlu.evaluate import evaluate, load_messages, table
    from nlu.settings import NluSettings

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rasa-url", default=None, help="Rasa server (default: nlu.rasa_url of the settings)")
    ap.add_argument("--confusion", action="store_true", help="Also print each report with its confusion matrix.")
    args = ap.parse_args()

    settings = NluSettings()
    if args.rasa_url:
        settings = settings.model_copy(update={"rasa_url": args.rasa_url})
    sets = {name: load_messages(path) for name, path in SETS.items() if path.exists()}

    t0 = time.perf_counter()
    resolved = settings.resolve(ROOT)
    model = EmbeddedNlu(resolved.data_file, resolved.dict_dir)
    print(f"embedded: trained in {time.perf_counter() - t0:.2f} s")
    model.parse("预热")
    _per_message(model, [m["text"] for msgs in sets.values() for m in msgs])
    rows = [(name, evaluate(model.parse, msgs, "embedded")) for name, msgs in sets.items()]
    rows += asyncio.run(_rasa_rows(settings, sets))
    print()
    for line in table(rows):
        print(line)
    if args.confusion:
        for name, report in rows:
            print(f"\n== {name}")
            for line in report.lines():
                print(line)


if __name__ == "__main__":
    main()
