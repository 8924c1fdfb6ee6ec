"""The FAQ retriever: lexical and dense signals fused into one calibrated decision.

`answer` only when the best entry is clearly good and clearly ahead of the next one;
`suggest` when something is close; `silent` otherwise. Answering wrongly in a group of
drivers costs more than staying quiet, so the thresholds lean towards silence.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from .calibration import Calibrator, evidence
from .chitchat import is_chitchat
from .dense import DenseIndex, Embedder
from .lexical import LexicalIndex, unit_counts
from .qtypes import question_types, type_mismatch, vetoed
from .schema import FaqEntry
from .settings import RetrievalSettings
from .text import Analyzer

log = logging.getLogger(__name__)

ANSWER, SUGGEST, SILENT = "answer", "suggest", "silent"


@dataclass(frozen=True)
class Candidate:
    faq_id: str
    score: float
    lexical: float
    dense: float
    coverage: float = 0.0  # share of the query's weight found anywhere in the entry
    similarity: float = 0.0  # lexical match of the best question/alternate (LexicalScore.similarity)
    variant_coverage: float = 0.0  # share of the query's weight found in that question/alternate
    answer_coverage: float = 0.0  # share of the query's weight found in the answer and tags


@dataclass(frozen=True)
class Decision:
    decision: str
    faq_id: str | None
    score: float
    suggestions: list[str] = field(default_factory=list)
    answer: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    # When silent: the closest entries, still worth offering to someone who asked the bot
    # directly (a mention, a command, a private chat), who expects a reply either way.
    hints: list[str] = field(default_factory=list)

    def as_json(self, text: str) -> dict:
        return {"text": text, "decision": self.decision, "faq_id": self.faq_id,
                "score": round(self.score, 4), "suggestions": self.suggestions, "answer": self.answer}


def release_freed_memory() -> None:
    """Hand the heap that a bulk load's temporaries (embedding batches, feature dicts) left
    free back to the OS; glibc keeps it otherwise, and a 50,000-entry import then reads
    as 100+ MiB more RSS than the index holds. A no-op where there is no glibc."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


class Retriever:
    """In-memory index over FAQ entries; every change applies at once (no rebuild)."""

    def __init__(self, settings: RetrievalSettings, analyzer: Analyzer, embedder: Embedder | None,
                 calibrator: Calibrator | None = None):
        self.settings = settings
        self.calibrator = calibrator or Calibrator.load()
        self.analyzer = analyzer
        self.embedder = embedder
        self.lexical = LexicalIndex(analyzer)
        self.dense = DenseIndex(embedder.dim) if embedder is not None else None
        self._entries: dict[str, FaqEntry] = {}
        self._num: dict[str, int] = {}
        self._ids: dict[int, str] = {}
        self._types: dict[int, frozenset[str]] = {}  # what the entry's wordings ask for (qtypes.py)
        self._next = 0
        self._lock = threading.RLock()
        if embedder is None:
            self.dense_weight, self.dense_floor = 0.0, 0.0
        elif embedder.is_fallback:
            self.dense_weight, self.dense_floor = settings.fallback_dense_weight, settings.fallback_dense_floor
        else:
            self.dense_weight, self.dense_floor = settings.dense_weight, settings.dense_floor

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def backend(self) -> str:
        return f"lexical+{self.embedder.name}" if self.embedder else "lexical"

    def entry(self, faq_id: str) -> FaqEntry | None:
        return self._entries.get(faq_id)

    # -- maintenance -------------------------------------------------------------
    def _number(self, faq_id: str) -> int:
        if faq_id not in self._num:
            self._num[faq_id] = self._next
            self._ids[self._next] = faq_id
            self._next += 1
        return self._num[faq_id]

    @staticmethod
    def _aux(entry: FaqEntry) -> str:
        return " ".join([entry.answer, *entry.tags])

    def _question_types(self, entry: FaqEntry) -> frozenset[str]:
        return frozenset().union(*(question_types(self.analyzer.normalize(t)) for t in entry.texts()))

    def load(self, entries: list[FaqEntry], batch: int = 2048) -> None:
        """Bulk add (start-up, import): embeds in batches."""
        for i in range(0, len(entries), batch):
            chunk = entries[i:i + batch]
            vectors = None
            if self.embedder is not None:
                flat = [t for e in chunk for t in e.texts()]
                vectors = self.embedder.encode(flat)
            with self._lock:
                pos, dense_items = 0, []
                for e in chunk:
                    num = self._number(e.id)
                    self._entries[e.id] = e
                    self._types[num] = self._question_types(e)
                    self.lexical.add(num, e.texts(), self._aux(e))
                    if vectors is not None:
                        n = len(e.texts())
                        dense_items.append((num, vectors[pos:pos + n]))
                        pos += n
                if self.dense is not None:
                    self.dense.add_many(dense_items)
        if len(entries) >= batch:
            release_freed_memory()

    def upsert(self, entry: FaqEntry) -> None:
        vectors = self.embedder.encode(entry.texts()) if self.embedder is not None else None
        with self._lock:
            num = self._number(entry.id)
            self._entries[entry.id] = entry
            self._types[num] = self._question_types(entry)
            self.lexical.add(num, entry.texts(), self._aux(entry))
            if self.dense is not None and vectors is not None:
                self.dense.add(num, vectors)

    def remove(self, faq_id: str) -> bool:
        with self._lock:
            num = self._num.get(faq_id)
            if num is None or faq_id not in self._entries:
                return False
            del self._entries[faq_id]
            self._types.pop(num, None)
            self.lexical.remove(num)
            if self.dense is not None:
                self.dense.remove(num)
            return True

    # -- queries -----------------------------------------------------------------
    def rank(self, text: str) -> tuple[list[Candidate], bool]:
        """Scored candidates, best first, and whether the text looked like chit-chat."""
        ranked, chit, _, _ = self._rank(text)
        return ranked, chit

    def _rank(self, text: str) -> tuple[list[Candidate], bool, dict[str, float], str]:
        s = self.settings
        canonical = self.analyzer.canonical(text)
        repaired = self.lexical.homophones.repair(canonical)
        if repaired != canonical:  # a repaired typo may be a variant with a canonical term
            canonical = self.analyzer.canonical(repaired)
        chit = is_chitchat(canonical)
        feats = self.query_features(canonical)
        if not feats or not self._entries:
            return [], chit, {}, canonical
        query_counts = unit_counts([canonical])
        with self._lock:
            query_w = self.lexical.weigh(feats)
            nums = [n for n in self.lexical.candidates(query_w, s.candidates) if self._ids.get(n) in self._entries]
            lexical = dict(zip(nums, self._lexical_scores(query_w, query_counts, nums)))
        dense_hits: dict[int, float] = {}
        qvec = None
        # Embedding the query is the costly step: skip it when even a perfect dense match
        # could not lift the best lexical candidate to a suggestion (chit-chat, off-topic).
        best_lex = max((v[0] for v in lexical.values()), default=0.0)
        bound = (1 - self.dense_weight) * best_lex + self.dense_weight
        if (self.embedder is not None and self.dense is not None and self.dense_weight > 0 and not chit
                and bound >= s.dense_gate):
            qvec = self.embedder.encode_query(canonical)
        with self._lock:
            if qvec is not None:
                dense_hits = self.dense.search(qvec, s.candidates * 2)
                extra = [n for n in sorted(dense_hits, key=dense_hits.get, reverse=True)[:s.candidates // 2]
                         if n not in lexical and self._ids.get(n) in self._entries]
                lexical.update(zip(extra, self._lexical_scores(query_w, query_counts, extra)))
                missing = [n for n in lexical if n not in dense_hits]
                dense_hits.update(zip(missing, self.dense.similarities(qvec, missing)))
            out = []
            for num, (lex_score, coverage, similarity, variant_cov, answer_cov) in lexical.items():
                dense = 0.0
                if qvec is not None:
                    dense = max(0.0, (dense_hits[num] - self.dense_floor) / (1 - self.dense_floor))
                score = (1 - self.dense_weight) * lex_score + self.dense_weight * dense
                out.append(Candidate(self._ids[num], float(score), lex_score, float(dense), coverage,
                                     similarity, variant_cov, answer_cov))
        out.sort(key=lambda c: -c.score)
        return out, chit, query_w, canonical

    def query_features(self, canonical: str) -> dict[str, float]:
        """Feature weights (before IDF) of a query in canonical form, with the words its
        homophones stand for (HomophoneIndex.sound_alikes). Situation cues the entries use
        themselves bridge nothing and are skipped."""
        with self._lock:  # that check reads the index, which a live edit may be growing
            feats = self.analyzer.query_features(canonical, self.settings.concept_weight, self.lexical.uses).weights
            own_words = [key[1:] for key in feats if key[0] == "w"]  # segmented once, by the features
            for word in self.lexical.homophones.sound_alikes(own_words, self.lexical.uses):
                for key, val in self.analyzer.features(word, canonical=True).weights.items():
                    feats[key] = max(feats.get(key, 0.0), val)
            return feats

    def _lexical_scores(self, query_w: dict[str, float], query_counts: dict[str, int],
                        nums: list[int]) -> list[tuple[float, ...]]:
        """(fused lexical score, entry coverage, similarity, variant coverage, answer coverage) per entry."""
        if not nums:
            return []
        s = self.settings
        norm = 1 + s.answer_weight + s.entry_weight + s.cosine_weight
        lex = self.lexical.score_arrays(query_w, nums, detail=False)
        fused = (lex.similarity + s.answer_weight * lex.aux_coverage + s.entry_weight * lex.entry_coverage) / norm
        if s.cosine_weight:
            fused += s.cosine_weight * self.lexical.cosine(query_counts, nums) / norm
        return list(zip(fused.tolist(), lex.entry_coverage.tolist(), lex.similarity.tolist(),
                        lex.coverage.tolist(), lex.aux_coverage.tolist()))

    def asks(self, text: str) -> frozenset[str]:
        """The kinds of fact the query asks for (qtypes.py)."""
        return question_types(self.analyzer.normalize(text))

    def evidence(self, asks: frozenset[str], ranked: list[Candidate], query_w: dict[str, float],
                 canonical: str) -> dict:
        """Calibration features of the best candidate (see calibration.py); `asks` is
        `self.asks(text)` of the query."""
        top = ranked[0]
        runner = ranked[1] if len(ranked) > 1 else None
        num = self._num[top.faq_id]
        mismatch = type_mismatch(asks, self._types.get(num, frozenset()))
        return evidence(self.lexical, query_w, num, top, runner, len(canonical), mismatch)

    def search(self, text: str) -> Decision:
        s = self.settings
        ranked, chit, query_w, canonical = self._rank(text)
        if not ranked:
            return Decision(SILENT, None, 0.0)
        top = ranked[0]
        asks = self.asks(text)
        if chit or vetoed(asks, self._types.get(self._num[top.faq_id], frozenset())):
            return Decision(SILENT, top.faq_id, 0.0, candidates=ranked[:5])
        runner = ranked[1] if len(ranked) > 1 else None
        with self._lock:
            features = self.evidence(asks, ranked, query_w, canonical)
        p = self.calibrator.probability(features)
        # A bare topic ("资格证") that several entries contain in full is a question
        # with no specific intent yet, and two entries scoring the same are a coin flip:
        # offer the choices instead of guessing.
        ambiguous = runner is not None and (
            (runner.coverage >= 0.98 and top.coverage - runner.coverage < 0.02)
            or top.score - runner.score < s.tie_margin)
        if p >= s.answer_probability and not ambiguous:
            return Decision(ANSWER, top.faq_id, p, answer=self._entries[top.faq_id].answer, candidates=ranked[:5])
        if p >= s.suggest_probability:
            return Decision(SUGGEST, top.faq_id, p, suggestions=self._closest(ranked), candidates=ranked[:5])
        hints = self._closest(ranked) if p >= s.hint_probability else []
        return Decision(SILENT, top.faq_id, p, candidates=ranked[:5], hints=hints)

    def _closest(self, ranked: list[Candidate]) -> list[str]:
        """The entries within suggest_window of the best one (at most max_suggestions)."""
        floor = ranked[0].score - self.settings.suggest_window
        return [c.faq_id for c in ranked if c.score >= floor][:self.settings.max_suggestions]
