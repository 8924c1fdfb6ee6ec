"""Turns retrieval evidence into the probability that the top entry really answers the query.

Raw similarity alone separates right from wrong poorly on colloquial Chinese: a question
that shares a place name with an entry ("龙溪大道的限高杆好久拆") can outscore a real
paraphrase. A small logistic model over a few evidence features (how much of the query
the entry covers, the lead over the runner-up, content characters left unexplained, ...)
does much better. It is fitted by `python -m bench.calibrate` on the evaluation sets in
bench/data (two knowledge bases written by different people) and shipped as
calibration.yml; the decision thresholds in config.yml are probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .lexical import LexicalIndex
from .text import STOP_UNITS

if TYPE_CHECKING:
    from .retriever import Candidate

FEATURES = ("score", "margin", "coverage", "runner_coverage", "similarity", "variant_coverage",
            "answer_coverage", "unmatched_max", "unmatched_share", "length", "type_mismatch")
LENGTH_CAP = 15  # characters: longer messages say no more about the match (40 made a long
# rambling message look certain: p 0.996 with 4% coverage on the fresh set)
DEFAULT_FILE = Path(__file__).with_name("calibration.yml")


def evidence(index: LexicalIndex, query_w: dict[str, float], top_num: int, top: Candidate,
             runner: Candidate | None, length: int, type_mismatch: float = 0.0) -> dict[str, float]:
    """The features of one query's best candidate (see FEATURES); `top` and `runner` come
    from the ranking of the same query, which already scored them lexically."""
    total = sum(query_w.values()) or 1.0
    content = [(f, w) for f, w in query_w.items() if f[0] == "u" and f[1:] not in STOP_UNITS]
    found = index.contains(top_num, [f for f, _ in content])
    unmatched = [w for (_, w), hit in zip(content, found) if not hit]
    return {
        "score": top.score,
        "margin": top.score - (runner.score if runner else 0.0),
        "coverage": top.coverage,
        "runner_coverage": runner.coverage if runner else 0.0,
        "similarity": top.similarity,
        "variant_coverage": top.variant_coverage,
        "answer_coverage": top.answer_coverage,
        "unmatched_max": max(unmatched, default=0.0),
        "unmatched_share": sum(unmatched) / total,
        "length": min(length, LENGTH_CAP) / 10.0,
        "type_mismatch": type_mismatch,  # asks when/who/how much/why, the entry never does (qtypes.py)
    }


@dataclass(frozen=True)
class Calibrator:
    weights: dict[str, float]
    bias: float

    @classmethod
    def load(cls, path: Path = DEFAULT_FILE) -> "Calibrator":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        weights = {k: float(v) for k, v in data["weights"].items()}
        missing = set(FEATURES) - set(weights)
        if missing:
            raise ValueError(f"{path}: weights missing for {sorted(missing)}")
        return cls(weights, float(data["bias"]))

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[k] * features[k] for k in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
