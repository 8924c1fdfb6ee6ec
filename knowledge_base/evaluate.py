"""Offline evaluation of the retriever on `queries: [{q, expect}]` files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .retriever import ANSWER, SILENT, Retriever


@dataclass
class EvalResult:
    in_scope: int
    out_of_scope: int
    top1: float
    answered_correctly: float
    wrong_answer: float
    suggested_correctly: float
    offered_when_asked: float  # same, counting the hints a silent decision gives someone who asked directly
    oos_silence: float
    oos_hinted: float  # out-of-scope queries that would get hints if asked directly
    p50_ms: float
    p95_ms: float
    failures: list[dict]

    def lines(self) -> list[str]:
        return [
            f"queries: {self.in_scope} in scope, {self.out_of_scope} out of scope",
            f"top-1 accuracy (in scope):        {self.top1:.3f}",
            f"answered correctly (in scope):    {self.answered_correctly:.3f}",
            f"correct entry offered (any):      {self.suggested_correctly:.3f}",
            f"  ... when asked directly:        {self.offered_when_asked:.3f}",
            f"wrong answers (in scope):         {self.wrong_answer:.3f}",
            f"out-of-scope silence:             {self.oos_silence:.3f}",
            f"  ... hints if asked directly:    {self.oos_hinted:.3f}",
            f"latency p50 / p95:                {self.p50_ms:.1f} ms / {self.p95_ms:.1f} ms",
        ]


def load_queries(path: str | Path) -> list[dict]:
    """`queries: [{q: text, expect: entry id or null}]`; a ValueError names every bad item
    (a query the file cannot say what to expect of would skew the figures silently)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    queries = data.get("queries") if isinstance(data, dict) else None
    if not isinstance(queries, list):
        raise ValueError(f"{path}: expected `queries: [{{q, expect}}]`")
    out, problems = [], []
    for i, item in enumerate(queries):
        item = item if isinstance(item, dict) else {}  # not a mapping: no text, so a problem below
        q, expect = item.get("q"), item.get("expect")
        if q is None or isinstance(q, (dict, list)) or not str(q).strip():
            problems.append(f"queries[{i}]: needs a text `q`")
        elif isinstance(expect, (dict, list, bool)):
            problems.append(f"queries[{i}]: `expect` must be an entry id or null")
        else:
            out.append({"q": str(q), "expect": None if expect is None else str(expect)})
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return out


def unknown_expectations(retriever: Retriever, queries: list[dict]) -> list[str]:
    """Expected ids the knowledge base does not hold (a typo, or an entry skipped as invalid):
    their queries can only count as misses."""
    return sorted({q["expect"] for q in queries if q["expect"] is not None and retriever.entry(q["expect"]) is None})


def evaluate(retriever: Retriever, queries: list[dict]) -> EvalResult:
    lat, fails = [], []
    n_in = n_out = top1 = correct = wrong = sugg_ok = asked_ok = silent_oos = hinted_oos = 0
    for item in queries:
        t0 = time.perf_counter()
        d = retriever.search(item["q"])
        lat.append((time.perf_counter() - t0) * 1000)
        expect = item["expect"]
        if expect is None:
            n_out += 1
            silent_oos += d.decision == SILENT
            hinted_oos += bool(d.hints)
            if d.decision != SILENT:
                fails.append({"q": item["q"], "expect": None, "got": d.decision, "id": d.faq_id, "score": d.score})
            continue
        n_in += 1
        top1 += d.faq_id == expect
        if d.decision == ANSWER:
            correct += d.faq_id == expect
            wrong += d.faq_id != expect
        offered = d.decision != SILENT and (d.faq_id == expect or expect in d.suggestions)
        sugg_ok += offered
        asked_ok += offered or expect in d.hints
        if not (d.decision == ANSWER and d.faq_id == expect):
            fails.append({"q": item["q"], "expect": expect, "got": d.decision, "id": d.faq_id,
                          "score": d.score, "suggestions": d.suggestions})
    arr = np.array(lat or [0.0])
    ins, outs = max(n_in, 1), max(n_out, 1)
    return EvalResult(n_in, n_out, top1 / ins, correct / ins, wrong / ins, sugg_ok / ins, asked_ok / ins,
                      silent_oos / outs, hinted_oos / outs,
                      float(np.percentile(arr, 50)), float(np.percentile(arr, 95)), fails)
