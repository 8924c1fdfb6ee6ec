"""`make bench`: retrieval accuracy and latency on the dev and held-out sets, then scale.

Run with --help for options; figures are printed, nothing is asserted."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent


def _settings(tmp: Path, dense: bool = True):
    from bot.config import load_settings

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "none.yml").write_text("faqs: []\n", encoding="utf-8")  # each bench loads its own KB
    cfg = tmp / "config.yml"
    cfg.write_text(
        f"database:\n  url: sqlite:///{tmp / 'bench.db'}\n"
        f"knowledge_base:\n  faq_file: {tmp / 'none.yml'}\n  dict_dir: {ROOT / 'knowledge_base' / 'dict'}\n"
        f"  cache_dir: {tmp / 'cache'}\n"
        f"retrieval:\n  dense: {str(dense).lower()}\n"
        f"nlu:\n  backend: embedded\n  data_file: {ROOT / 'nlu' / 'data' / 'nlu.yml'}\n"
        f"  dict_dir: {ROOT / 'nlu' / 'dict'}\n"
        f"study:\n  library_file: {ROOT / 'knowledge_base' / 'study.yml'}\n"
        "logging:\n  level: WARNING\n", encoding="utf-8")
    base = (ROOT / "config.yml").read_text(encoding="utf-8")
    import yaml

    merged = yaml.safe_load(base)
    merged.update({k: v if not isinstance(v, dict) else {**merged.get(k, {}), **v}
                   for k, v in yaml.safe_load(cfg.read_text(encoding="utf-8")).items()})
    cfg.write_text(yaml.safe_dump(merged, allow_unicode=True), encoding="utf-8")
    return load_settings(cfg)


def accuracy(tmp: Path) -> None:
    from bot.app import App
    from knowledge_base.evaluate import evaluate, load_queries

    from bench.evalsets import SETS

    settings = _settings(tmp)
    labels = {"dev": "dev (shipped KB)", "held-out": "held-out KB", "fresh": "fresh KB (written blind)",
              "blind2": "blind2 KB (written blind, never tuned on)",
              "blind3": "blind3 KB (Guizhou, written blind)",
              "blind4": "blind4 KB (Guizhou, written blind)",
              "blind5": "blind5 KB (Guizhou, written blind, never tuned on)",
              "blind6": "blind6 KB (Guangxi/Gansu, written blind, never tuned on)",
              "blind7": "blind7 KB (Sichuan/Chongqing/Hunan, written blind)"}
    for name, (kb, queries) in SETS.items():
        label = labels.get(name, name)
        if not (kb.exists() and queries.exists()):
            print(f"== {label}: missing {kb.name} or {queries.name}, skipped")
            continue
        app = App.build(settings, kb_file=kb)
        res = evaluate(app.kb.retriever, load_queries(queries))
        print(f"== {label} [{app.kb.retriever.backend}]")
        for line in res.lines():
            print("   " + line)


def scale(tmp: Path, n: int, queries: int) -> None:
    from bot.app import App
    from bench.synthetic import synthetic_kb

    settings = _settings(tmp)
    entries = synthetic_kb(n)
    proc = psutil.Process()
    t0 = time.perf_counter()
    app = App.build(settings)  # empty database, nothing to seed
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = app.kb.apply_import(entries, actor="bench")
    t_import = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, size=queries)
    lat, hits = [], 0
    for i in picks:
        e = entries[int(i)]
        t = time.perf_counter()
        d = app.kb.ask(e.question.rstrip("？") + "啊")
        lat.append((time.perf_counter() - t) * 1000)
        hits += d.faq_id == e.id
    arr = np.array(lat)
    print(f"== scale: {n} synthetic entries [{app.kb.retriever.backend}]")
    print(f"   start-up (models, empty DB):   {t_start:.1f} s")
    print(f"   import + index:                {t_import:.1f} s ({summary.line()})")
    print(f"   ask p50 / p95:                 {np.percentile(arr, 50):.1f} ms / {np.percentile(arr, 95):.1f} ms"
          f" over {queries} queries")
    print(f"   top-1 on own questions:        {hits / queries:.3f}")
    print(f"   RSS:                           {proc.memory_info().rss / 2**20:.0f} MiB")
    app.close()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--scale", type=int, default=50_000, help="synthetic KB size (0 skips)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--only", choices=["accuracy", "scale"], default=None)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "accuracy"):
            accuracy(tmp / "acc")
        if args.only in (None, "scale") and args.scale:
            scale(tmp / "scale", args.scale, args.queries)


if __name__ == "__main__":
    main()
