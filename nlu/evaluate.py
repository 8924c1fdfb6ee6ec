"""Evaluation of a backend on a labelled message file (nlu/data/test_messages.yml format:
`messages: [{text, intent, kind, category, urgent}]`).

Reported: accuracy of the kind (overall and per true kind), precision/recall of
complaints, recall of urgent messages, category accuracy (over true complaints: the
predicted category must match, so a missed complaint counts as wrong), macro-F1 over the
three kinds, the kind confusion matrix, and p50/p95 latency per message."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import numpy as np
import yaml

from .understanding import KINDS, Understanding


def load_messages(path: Path) -> list[dict]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    msgs = doc.get("messages") if isinstance(doc, dict) else None
    if not isinstance(msgs, list) or not all(isinstance(m, dict) and "text" in m and "kind" in m for m in msgs):
        raise ValueError(f"{path}: expected `messages: [{{text, intent, kind, category, urgent}}]`")
    return msgs


@dataclass
class Report:
    backend: str
    n: int
    kind_accuracy: float
    accuracy_by_kind: dict[str, float]
    complaint_precision: float
    complaint_recall: float
    urgent_recall: float
    category_accuracy: float
    macro_f1: float
    confusion: dict[str, dict[str, int]]  # true kind -> predicted kind -> count
    p50_ms: float
    p95_ms: float
    failures: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        by_kind = "  ".join(f"{k} {v:.3f}" for k, v in self.accuracy_by_kind.items())
        out = [
            f"backend {self.backend}: {self.n} messages",
            f"  kind accuracy        {self.kind_accuracy:.3f}   ({by_kind})",
            f"  complaint precision  {self.complaint_precision:.3f}   recall {self.complaint_recall:.3f}",
            f"  urgent recall        {self.urgent_recall:.3f}",
            f"  category accuracy    {self.category_accuracy:.3f}   (over true complaints)",
            f"  macro-F1 (kinds)     {self.macro_f1:.3f}",
            f"  latency              p50 {self.p50_ms:.2f} ms   p95 {self.p95_ms:.2f} ms",
            "  confusion (rows true, columns predicted):",
            "    " + " " * 10 + "".join(f"{k:>10}" for k in KINDS),
        ]
        out += ["    " + f"{t:<10}" + "".join(f"{self.confusion[t][p]:>10}" for p in KINDS) for t in KINDS]
        return out


def _safe(a: float, b: float) -> float:
    return a / b if b else 0.0


def score(messages: list[dict], results: list[Understanding], latencies_ms: list[float], backend: str) -> Report:
    conf = {t: {p: 0 for p in KINDS} for t in KINDS}
    failures = []
    for m, r in zip(messages, results):
        conf[m["kind"]][r.kind] += 1
        wrong_cat = m["kind"] == "complaint" and r.category != m.get("category")
        if r.kind != m["kind"] or wrong_cat or bool(m.get("urgent")) != r.urgent:
            failures.append({"text": m["text"], "expected": [m["kind"], m.get("intent"), m.get("category"),
                                                            bool(m.get("urgent"))],
                             "got": [r.kind, r.intent, r.category, r.urgent, round(r.confidence, 3)]})
    f1s = []
    for k in KINDS:
        tp = conf[k][k]
        p, r = _safe(tp, sum(conf[t][k] for t in KINDS)), _safe(tp, sum(conf[k].values()))
        f1s.append(_safe(2 * p * r, p + r))
    complaints = [(m, r) for m, r in zip(messages, results) if m["kind"] == "complaint"]
    urgent = [(m, r) for m, r in zip(messages, results) if m.get("urgent")]
    lat = np.array(latencies_ms or [0.0])
    return Report(
        backend=backend, n=len(messages),
        kind_accuracy=_safe(sum(conf[k][k] for k in KINDS), len(messages)),
        accuracy_by_kind={k: _safe(conf[k][k], sum(conf[k].values())) for k in KINDS},
        complaint_precision=_safe(conf["complaint"]["complaint"], sum(conf[t]["complaint"] for t in KINDS)),
        complaint_recall=_safe(conf["complaint"]["complaint"], sum(conf["complaint"].values())),
        urgent_recall=_safe(sum(r.urgent for _, r in urgent), len(urgent)),
        category_accuracy=_safe(sum(r.category == m.get("category") for m, r in complaints), len(complaints)),
        macro_f1=float(np.mean(f1s)), confusion=conf,
        p50_ms=float(np.percentile(lat, 50)), p95_ms=float(np.percentile(lat, 95)), failures=failures,
    )


def evaluate(parse: Callable[[str], Understanding], messages: list[dict], backend: str) -> Report:
    results, lat = [], []
    for m in messages:
        t0 = time.perf_counter()
        results.append(parse(m["text"]))
        lat.append((time.perf_counter() - t0) * 1000)
    return score(messages, results, lat, backend)


async def evaluate_async(parse: Callable[[str], Awaitable[Understanding]], messages: list[dict],
                         backend: str) -> Report:
    results, lat = [], []
    for m in messages:
        t0 = time.perf_counter()
        results.append(await parse(m["text"]))
        lat.append((time.perf_counter() - t0) * 1000)
    return score(messages, results, lat, backend)


def table(rows: list[tuple[str, Report]]) -> list[str]:
    """One line per (data set, report), the headline numbers side by side."""
    head = f"{'set':<12}{'backend':<10}{'n':>5}{'kindAcc':>9}{'macroF1':>9}{'complP':>8}{'complR':>8}" \
           f"{'urgentR':>9}{'catAcc':>8}{'p50ms':>8}{'p95ms':>8}"
    out = [head]
    for name, r in rows:
        out.append(f"{name:<12}{r.backend:<10}{r.n:>5}{r.kind_accuracy:>9.3f}{r.macro_f1:>9.3f}"
                   f"{r.complaint_precision:>8.3f}{r.complaint_recall:>8.3f}{r.urgent_recall:>9.3f}"
                   f"{r.category_accuracy:>8.3f}{r.p50_ms:>8.2f}{r.p95_ms:>8.2f}")
    return out
