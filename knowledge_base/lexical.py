"""Incremental lexical index: inverted postings for recall, weighted overlap for scoring.

Entries are added, changed and removed one at a time (admins edit live), so there is
no global fit step: document frequencies are posting-list lengths kept up to date, and
IDF is read from them at query time. Features are interned as integer ids and each
entry keeps small numpy arrays, so 50,000 entries fit in a few hundred megabytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .text import STOP_UNITS, Analyzer


@dataclass
class _Doc:
    variants: list[tuple[np.ndarray, np.ndarray]]  # (sorted feature ids, weights) per question/alternate
    aux: tuple[np.ndarray, np.ndarray]  # answer and tags
    terms: np.ndarray  # sorted ids of every feature in the entry


@dataclass(frozen=True)
class LexicalScore:
    similarity: float  # best question/alternate: weighted F-measure of shared features
    coverage: float  # share of the query's weight found in that variant
    aux_coverage: float  # share of the query's weight found in answer and tags
    entry_coverage: float  # share of the query's weight found anywhere in the entry
    variant: int
    precision: float = 0.0  # share of that variant's weight found in the query
    best_recall: float = 0.0  # highest share of the query's weight found in any one variant
    phrase_coverage: float = 0.0  # like entry_coverage, over bigrams and words only (word order)
    unmatched: float = 0.0  # share of the query's weight in content characters the entry lacks


_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class LexicalIndex:
    BETA = 1.3  # recall of the query counts a little more than precision of the variant

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self._docs: dict[int, _Doc] = {}
        self._vocab: dict[str, int] = {}
        self._names: list[str] = []
        self._postings: dict[int, list[int]] = {}
        self._arrays: dict[int, np.ndarray] = {}
        self._df = np.zeros(1024, dtype=np.int32)  # document frequency by feature id
        self._phrase = np.zeros(1024, dtype=bool)  # feature id is a bigram or a word
        self._content = np.zeros(1024, dtype=bool)  # feature id is a content character

    def __len__(self) -> int:
        return len(self._docs)

    # -- vocabulary --------------------------------------------------------------
    def _id(self, feature: str) -> int:
        fid = self._vocab.get(feature)
        if fid is None:
            fid = self._vocab[feature] = len(self._names)
            self._names.append(feature)
            if fid >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros(len(self._df), dtype=np.int32)])
                self._phrase = np.concatenate([self._phrase, np.zeros(len(self._phrase), dtype=bool)])
                self._content = np.concatenate([self._content, np.zeros(len(self._content), dtype=bool)])
            self._phrase[fid] = feature[0] in "bw"
            self._content[fid] = feature[0] == "u" and feature[1:] not in STOP_UNITS
        return fid

    def _encode(self, feats: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        if not feats:
            return _EMPTY
        pairs = sorted((self._id(f), w) for f, w in feats.items())
        return (np.fromiter((p[0] for p in pairs), dtype=np.int32, count=len(pairs)),
                np.fromiter((p[1] for p in pairs), dtype=np.float32, count=len(pairs)))

    # -- maintenance -------------------------------------------------------------
    def add(self, num: int, texts: list[str], aux_text: str) -> None:
        """Add or replace one entry: `texts` are its question and alternates."""
        if num in self._docs:
            self.remove(num)
        variants = [self._encode(self.analyzer.features(t).weights) for t in texts]
        aux = self._encode(self.analyzer.features(aux_text).weights)
        terms = np.unique(np.concatenate([v[0] for v in variants] + [aux[0]]))
        self._docs[num] = _Doc(variants, aux, terms)
        self._df[terms] += 1
        for t in terms.tolist():
            self._postings.setdefault(t, []).append(num)
            self._arrays.pop(t, None)

    def remove(self, num: int) -> None:
        doc = self._docs.pop(num, None)
        if doc is None:
            return
        self._df[doc.terms] -= 1
        for t in doc.terms.tolist():
            posting = self._postings.get(t)
            if posting is not None:
                posting.remove(num)
                if not posting:
                    del self._postings[t]
            self._arrays.pop(t, None)

    def terms(self, num: int) -> frozenset[str]:
        doc = self._docs.get(num)
        return frozenset(self._names[i] for i in doc.terms.tolist()) if doc else frozenset()

    # -- scoring -----------------------------------------------------------------
    def _idf_id(self, fid: int | None) -> float:
        n = len(self._docs)
        df = len(self._postings.get(fid, ())) if fid is not None else 0
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def idf(self, term: str) -> float:
        return self._idf_id(self._vocab.get(term))

    def weigh(self, feats: dict[str, float]) -> dict[str, float]:
        """Query feature weights times IDF (features unseen in the KB get the highest IDF)."""
        return {f: w * self._idf_id(self._vocab.get(f)) for f, w in feats.items()}

    def candidates(self, query: dict[str, float], k: int) -> list[int]:
        """Entries sharing the most IDF weight with the query (cheap recall step)."""
        n = len(self._docs)
        if not n or not query:
            return []
        idx, wts = [], []
        for term, w in query.items():
            fid = self._vocab.get(term)
            posting = self._postings.get(fid) if fid is not None else None
            if not posting or len(posting) > max(50, n // 3):
                continue  # absent, or too common to help recall
            arr = self._arrays.get(fid)
            if arr is None:
                arr = self._arrays[fid] = np.asarray(posting, dtype=np.int64)
            idx.append(arr)
            wts.append(np.full(len(arr), w, dtype=np.float32))
        if not idx:
            return []
        nums, inverse = np.unique(np.concatenate(idx), return_inverse=True)
        acc = np.bincount(inverse, weights=np.concatenate(wts))
        top = np.argpartition(-acc, min(k, len(acc)) - 1)[:k] if len(acc) > k else np.arange(len(acc))
        top = top[np.argsort(-acc[top])]
        return [int(nums[i]) for i in top]

    def score(self, query_w: dict[str, float], num: int) -> LexicalScore | None:
        """`query_w` must already be IDF-weighted (see `weigh`)."""
        if num not in self._docs:
            return None
        return self.score_many(query_w, [num])[0]

    def score_many(self, query_w: dict[str, float], nums: list[int]) -> list[LexicalScore]:
        """Scores of several entries in one vectorised pass (all must be in the index)."""
        q_total = sum(query_w.values()) or 1.0
        q_phrase = sum(w for f, w in query_w.items() if f[0] in "bw") or 1.0
        q_content = sum(w for f, w in query_w.items() if f[0] == "u" and f[1:] not in STOP_UNITS)
        qmap = np.zeros(len(self._names) + 1, dtype=np.float32)  # query weight by feature id
        for f, w in query_w.items():
            fid = self._vocab.get(f)
            if fid is not None:
                qmap[fid] = w
        n_names = len(self._names)
        phrase, content = self._phrase[:n_names], self._content[:n_names]
        docs = [self._docs[n] for n in nums]
        v_ids = [v[0] for d in docs for v in d.variants]
        v_w = [v[1] for d in docs for v in d.variants]
        seg = np.repeat(np.arange(len(v_ids)), [len(a) for a in v_ids])
        ids = np.concatenate(v_ids) if v_ids else np.zeros(0, dtype=np.int32)
        wts = np.concatenate(v_w) if v_w else np.zeros(0, dtype=np.float32)
        qv = qmap[ids]
        df = self._df[ids]
        n = len(self._docs)
        vw = wts * np.log1p((n - df + 0.5) / (df + 0.5))
        nseg = len(v_ids)
        rec = np.bincount(seg, weights=qv, minlength=nseg) / q_total
        prec = (np.bincount(seg, weights=vw * (qv > 0), minlength=nseg)
                / np.maximum(np.bincount(seg, weights=vw, minlength=nseg), 1e-9))
        b2 = self.BETA ** 2
        denom = b2 * prec + rec
        sim = np.where(denom > 0, (1 + b2) * prec * rec / np.where(denom > 0, denom, 1), 0.0)
        aux_cov = [float(qmap[d.aux[0]].sum()) / q_total for d in docs]
        all_cov, phrase_cov, unmatched = [], [], []
        for d in docs:
            hit = qmap[d.terms]
            all_cov.append(float(hit.sum()) / q_total)
            phrase_cov.append(float(hit[phrase[d.terms]].sum()) / q_phrase)
            unmatched.append(max(0.0, q_content - float(hit[content[d.terms]].sum())) / q_total)
        out, start = [], 0
        for i, d in enumerate(docs):
            k = len(d.variants)
            j = int(np.argmax(sim[start:start + k])) if k else 0
            best = (float(sim[start + j]), float(rec[start + j]), float(prec[start + j]),
                    float(rec[start:start + k].max())) if k else (0.0, 0.0, 0.0, 0.0)
            out.append(LexicalScore(best[0], best[1], aux_cov[i], all_cov[i], j, best[2], best[3],
                                    phrase_cov[i], unmatched[i]))
            start += k
        return out
