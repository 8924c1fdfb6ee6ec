"""Fit knowledge_base/calibration.yml from the evaluation sets in bench/data.

python -m bench.calibrate [--write]. Prints, for each set in FIT_SETS, how a model fitted on
the *other* sets does on it, then fits on all of them and shows that model on the set held
back (blind2 and blind5, the honest estimates for an unseen knowledge base); --write stores
the result.
Needs scikit-learn (a dev-time dependency here)."""

from __future__ import annotations

import argparse
import logging

import numpy as np
import yaml

from bench.evalsets import FIT_SETS, config_settings, load_sets
from knowledge_base.calibration import DEFAULT_FILE, FEATURES, Calibrator
from knowledge_base.retriever import Retriever



def collect(retriever: Retriever, queries: list[dict]) -> list[tuple[dict | None, bool, str | None]]:
    """(features or None when chit-chat/no candidate, label, expect) per query."""
    rows = []
    for item in queries:
        ranked, chit, query_w, canonical = retriever._rank(item["q"])
        if not ranked or chit:
            rows.append((None, False, item["expect"]))
            continue
        with retriever._lock:
            feats = retriever.evidence(retriever.asks(item["q"]), ranked, query_w, canonical)
        rows.append((feats, item["expect"] is not None and ranked[0].faq_id == item["expect"], item["expect"]))
    return rows


def fit(rows, drop: tuple[str, ...] = ()) -> Calibrator:
    """Logistic model over FEATURES; features in `drop` get weight 0 (ablation)."""
    from sklearn.linear_model import LogisticRegression

    keys = [k for k in FEATURES if k not in drop]
    X = np.array([[f[k] for k in keys] for f, _, _ in rows if f is not None])
    y = np.array([int(label) for f, label, _ in rows if f is not None])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)
    weights = {k: 0.0 for k in FEATURES} | {k: round(float(w), 4) for k, w in zip(keys, model.coef_[0])}
    return Calibrator(weights, round(float(model.intercept_[0]), 4))


def report(cal: Calibrator, rows, answer_p: float, suggest_p: float) -> str:
    n_in = sum(1 for _, _, e in rows if e is not None)
    n_out = len(rows) - n_in
    ok = wrong = silent_oos = offered = 0
    for f, label, expect in rows:
        p = cal.probability(f) if f is not None else 0.0
        if expect is None:
            silent_oos += p < suggest_p
        else:
            ok += p >= answer_p and label
            wrong += p >= answer_p and not label
            offered += p >= suggest_p and label
    return (f"answered correctly {ok / n_in:.3f}, wrong {wrong / n_in:.3f}, top entry offered "
            f"{offered / n_in:.3f}, out-of-scope silence {silent_oos / n_out:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.calibrate")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="cross-set figures for other decision thresholds")
    ap.add_argument("--drop", action="append", default=[], choices=FEATURES, help="leave a feature out (ablation)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    settings = config_settings()
    loaded = {name: collect(r, queries) for name, (r, queries) in load_sets(settings).items()}
    data = {name: rows for name, rows in loaded.items() if name in FIT_SETS}
    held_back = {name: rows for name, rows in loaded.items() if name not in FIT_SETS}
    for name in data:
        others = [row for other, rows in data.items() if other != name for row in rows]
        print(f"fitted on the other set(s), tested on {name}: "
              f"{report(fit(others, tuple(args.drop)), data[name], settings.answer_probability, settings.suggest_probability)}")
    if args.sweep:
        for answer_p in (0.75, 0.8, 0.85, 0.9):
            for suggest_p in (0.7, 0.75, 0.8, 0.85):
                if suggest_p > answer_p:
                    continue
                for name in data:
                    others = [row for other, rows in data.items() if other != name for row in rows]
                    print(f"answer {answer_p:.2f} suggest {suggest_p:.2f} {name:9s}"
                          f" {report(fit(others, tuple(args.drop)), data[name], answer_p, suggest_p)}")
    cal = fit([row for rows in data.values() for row in rows], tuple(args.drop))
    for name in data:
        print(f"fitted on all, {name}: {report(cal, data[name], settings.answer_probability, settings.suggest_probability)}")
    for name, rows in held_back.items():
        print(f"fitted on all, never fitted on, {name}: "
              f"{report(cal, rows, settings.answer_probability, settings.suggest_probability)}")
    if args.write:
        DEFAULT_FILE.write_text(
            "# Written by `python -m bench.calibrate --write`: logistic model of P(top entry is right).\n"
            + yaml.safe_dump({"bias": cal.bias, "weights": cal.weights}, sort_keys=False), encoding="utf-8")
        print(f"wrote {DEFAULT_FILE}")


if __name__ == "__main__":
    main()
