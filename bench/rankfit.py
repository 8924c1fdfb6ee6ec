"""Would a learned re-ranker beat the fused first-stage score? (analysis, nothing written)

python -m bench.rankfit [--c C] [--negatives K]: gives every candidate of every in-scope
query a row of evidence features (best question/alternate F-measure, precision and recall,
answer/tag coverage, whole-entry and phrase coverage, unmatched content characters,
longest shared substring, dense score, question-type agreement, the fused first-stage
score), fits a pairwise logistic ranker on one set and reports top-1 on the other set,
both ways. Measured here (2 sets, fallback model): no gain over the fused score, so the
engine does not ship a re-ranker; rerun this when the features or sets change."""

from __future__ import annotations

import argparse
import logging
from difflib import SequenceMatcher

import numpy as np

from bench.evalsets import FIT_SETS, config_settings, load_sets
from knowledge_base.qtypes import question_types
from knowledge_base.retriever import Retriever

FEATURES = ("similarity", "precision", "recall", "best_recall", "answer_coverage", "entry_coverage",
            "phrase_coverage", "unmatched", "substring", "dense", "type_match", "type_mismatch", "first_stage")


def substring_share(query: str, variants: list[str]) -> float:
    """Longest run of characters shared with a variant, as a share of that variant (best)."""
    best = 0.0
    for v in variants:
        v = v.replace(" ", "")
        if v and query:
            m = SequenceMatcher(None, query, v, autojunk=False).find_longest_match(0, len(query), 0, len(v))
            if m.size >= 2:
                best = max(best, m.size / len(v))
    return best


def candidate_rows(r: Retriever, text: str) -> tuple[list[str], np.ndarray]:
    ranked, _ = r.rank(text)
    canonical = r.analyzer.canonical(text)
    query_w = r.lexical.weigh(r.query_features(canonical))
    qtypes = question_types(r.analyzer.normalize(text))
    nums = [r._num[c.faq_id] for c in ranked]
    rows = []
    for c, num, lex in zip(ranked, nums, r.lexical.score_many(query_w, nums) if nums else []):
        e = r.entry(c.faq_id)
        variants = [r.analyzer.canonical(t) for t in e.texts()]
        et = r._types[num]
        rows.append([lex.similarity, lex.precision, lex.coverage, lex.best_recall, lex.aux_coverage,
                     lex.entry_coverage, lex.phrase_coverage, lex.unmatched,
                     substring_share(canonical.replace(" ", ""), variants), c.dense,
                     float(bool(qtypes & et)), float(bool(qtypes - et)), c.score])
    return [c.faq_id for c in ranked], np.array(rows).reshape(len(rows), len(FEATURES))


def collect(r: Retriever, queries: list[dict]) -> list[dict]:
    out = []
    for item in queries:
        if item["expect"] is not None:
            ids, rows = candidate_rows(r, item["q"])
            out.append({"q": item["q"], "expect": item["expect"], "ids": ids, "X": rows})
    return out


def pairs(data: list[dict], negatives: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected entry minus each of the `negatives` best other candidates (first-stage order)."""
    X, y = [], []
    for d in data:
        if d["expect"] not in d["ids"]:
            continue
        pos = d["ids"].index(d["expect"])
        for j in [j for j in range(len(d["ids"])) if j != pos][:negatives]:
            diff = d["X"][pos] - d["X"][j]
            X += [diff, -diff]
            y += [1, 0]
    return np.array(X), np.array(y)


def fit(data: list[dict], c: float, negatives: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    X, y = pairs(data, negatives)
    return LogisticRegression(C=c, fit_intercept=False, max_iter=5000).fit(X, y).coef_[0]


def top1(data: list[dict], w: np.ndarray | None) -> float:
    """Top-1 under weights `w` (None: the retriever's own order)."""
    ok = sum(bool(d["ids"]) and d["ids"][0 if w is None else int(np.argmax(d["X"] @ w))] == d["expect"]
             for d in data)
    return ok / len(data)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.rankfit")
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--negatives", type=int, default=10, help="hard negatives per query")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    data = {}
    for name, (r, queries) in load_sets(config_settings(), list(FIT_SETS)).items():
        data[name] = collect(r, queries)
        recall = np.mean([d["expect"] in d["ids"] for d in data[name]])
        print(f"{name}: {len(data[name])} in-scope queries, candidate recall {recall:.3f}, "
              f"top-1 of the engine {top1(data[name], None):.3f}")
    for name in data:
        others = [d for other, rows in data.items() if other != name for d in rows]
        w = fit(others, args.c, args.negatives)
        print(f"re-ranker fitted on the other set, top-1 on {name}: {top1(data[name], w):.3f}")
    w = fit([d for rows in data.values() for d in rows], args.c, args.negatives)
    print("fitted on all: " + ", ".join(f"{name} {top1(rows, w):.3f}" for name, rows in data.items()))
    print("weights: " + ", ".join(f"{k}={v:.2f}" for k, v in zip(FEATURES, w)))


if __name__ == "__main__":
    main()
