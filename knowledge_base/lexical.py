"""Incremental lexical index: inverted postings for recall, weighted overlap for scoring.

Entries are added, changed and removed one at a time (admins edit live), so there is
no global fit step: document frequencies are counts kept up to date, and IDF is read
from them at query time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .text import Analyzer


@dataclass
class _Doc:
    variants: list[dict[str, float]]  # question, then alternates
    aux: dict[str, float]  # answer and tags
    terms: frozenset[str]


@dataclass(frozen=True)
class LexicalScore:
    similarity: float  # best question/alternate: weighted F-measure of shared features
    coverage: float  # share of the query's weight found in that variant
    aux_coverage: float  # share of the query's weight found in answer and tags
    entry_coverage: float  # share of the query's weight found anywhere in the entry
    variant: int


class LexicalIndex:
    BETA = 1.3  # recall of the query counts a little more than precision of the variant

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self._docs: dict[int, _Doc] = {}
        self._postings: dict[str, set[int]] = {}
        self._arrays: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._docs)

    # -- maintenance -------------------------------------------------------------
    def add(self, num: int, texts: list[str], aux_text: str) -> None:
        """Add or replace one entry: `texts` are its question and alternates."""
        if num in self._docs:
            self.remove(num)
        variants = [self.analyzer.features(t).weights for t in texts]
        aux = self.analyzer.features(aux_text).weights
        terms = frozenset().union(*variants, aux)
        self._docs[num] = _Doc(variants, aux, terms)
        for t in terms:
            self._postings.setdefault(t, set()).add(num)
            self._arrays.pop(t, None)

    def remove(self, num: int) -> None:
        doc = self._docs.pop(num, None)
        if doc is None:
            return
        for t in doc.terms:
            posting = self._postings.get(t)
            if posting is not None:
                posting.discard(num)
                if not posting:
                    del self._postings[t]
            self._arrays.pop(t, None)

    def terms(self, num: int) -> frozenset[str]:
        doc = self._docs.get(num)
        return doc.terms if doc else frozenset()

    # -- scoring -----------------------------------------------------------------
    def idf(self, term: str) -> float:
        n = len(self._docs)
        df = len(self._postings.get(term, ()))
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def weigh(self, feats: dict[str, float]) -> dict[str, float]:
        return {f: w * self.idf(f) for f, w in feats.items()}

    def candidates(self, query: dict[str, float], k: int) -> list[int]:
        """Entries sharing the most IDF weight with the query (cheap recall step)."""
        n = len(self._docs)
        if not n or not query:
            return []
        idx, wts = [], []
        for term, w in query.items():
            posting = self._postings.get(term)
            if not posting or len(posting) > max(50, n // 3):
                continue  # absent, or too common to help recall
            arr = self._arrays.get(term)
            if arr is None:
                arr = self._arrays[term] = np.fromiter(posting, dtype=np.int64, count=len(posting))
            idx.append(arr)
            wts.append(np.full(len(arr), w, dtype=np.float32))
        if not idx:
            return []
        all_idx = np.concatenate(idx)
        nums, inverse = np.unique(all_idx, return_inverse=True)
        acc = np.bincount(inverse, weights=np.concatenate(wts))
        top = np.argsort(-acc)[:k]
        return [int(nums[i]) for i in top]

    def score(self, query_w: dict[str, float], num: int) -> LexicalScore | None:
        """`query_w` must already be IDF-weighted (see `weigh`)."""
        doc = self._docs.get(num)
        if doc is None:
            return None
        q_total = sum(query_w.values()) or 1.0
        best = LexicalScore(0.0, 0.0, 0.0, 0.0, 0)
        b2 = self.BETA ** 2
        for i, v in enumerate(doc.variants):
            shared = [f for f in query_w if f in v]
            if not shared:
                continue
            rec = sum(query_w[f] for f in shared) / q_total
            v_total = sum(w * self.idf(f) for f, w in v.items()) or 1.0
            prec = sum(v[f] * self.idf(f) for f in shared) / v_total
            sim = (1 + b2) * prec * rec / (b2 * prec + rec) if prec + rec else 0.0
            if sim > best.similarity:
                best = LexicalScore(sim, rec, 0.0, 0.0, i)
        aux_cov = sum(w for f, w in query_w.items() if f in doc.aux) / q_total
        all_cov = sum(w for f, w in query_w.items() if f in doc.terms) / q_total
        return LexicalScore(best.similarity, best.coverage, aux_cov, all_cov, best.variant)
