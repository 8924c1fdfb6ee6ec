"""The vectorised scoring paths give bit-for-bit the results of the simple per-entry code
they replaced (kept here as the oracle), also after live edits."""

import math

import numpy as np
import pytest

from knowledge_base.dense import SLOTS, DenseIndex
from knowledge_base.evaluate import load_queries
from knowledge_base.lexical import LexicalScore
from knowledge_base.retriever import Retriever
from knowledge_base.schema import FaqEntry, read_file
from knowledge_base.settings import RetrievalSettings
from knowledge_base.text import STOP_UNITS

from conftest import ROOT


def _encode(index, text):
    pairs = sorted((index._vocab[f], w) for f, w in index.analyzer.features(text).weights.items())
    return (np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.float32))


def reference_score(index, query_w, entry: FaqEntry) -> LexicalScore:
    """One entry scored the way LexicalIndex.score_many did before it was vectorised."""
    variants = [_encode(index, t) for t in entry.texts()]
    aux = _encode(index, " ".join([entry.answer, *entry.tags]))
    terms = np.unique(np.concatenate([v[0] for v in variants] + [aux[0]]))
    q_total = sum(query_w.values()) or 1.0
    q_phrase = sum(w for f, w in query_w.items() if f[0] in "bw") or 1.0
    q_content = sum(w for f, w in query_w.items() if f[0] == "u" and f[1:] not in STOP_UNITS)
    qmap = np.zeros(len(index._names) + 1, dtype=np.float32)
    for f, w in query_w.items():
        fid = index._vocab.get(f)
        if fid is not None:
            qmap[fid] = w
    phrase, content = index._phrase[:len(index._names)], index._content[:len(index._names)]
    seg = np.repeat(np.arange(len(variants)), [len(v[0]) for v in variants])
    ids = np.concatenate([v[0] for v in variants])
    wts = np.concatenate([v[1] for v in variants])
    qv = qmap[ids]
    df = index._df[ids]
    n = len(index)
    vw = wts * np.log1p((n - df + 0.5) / (df + 0.5))
    k = len(variants)
    rec = np.bincount(seg, weights=qv, minlength=k) / q_total
    prec = (np.bincount(seg, weights=vw * (qv > 0), minlength=k)
            / np.maximum(np.bincount(seg, weights=vw, minlength=k), 1e-9))
    b2 = index.BETA ** 2
    denom = b2 * prec + rec
    sim = np.where(denom > 0, (1 + b2) * prec * rec / np.where(denom > 0, denom, 1), 0.0)
    hit = qmap[terms]
    j = int(np.argmax(sim))
    return LexicalScore(float(sim[j]), float(rec[j]), float(qmap[aux[0]].sum()) / q_total,
                        float(hit.sum()) / q_total, j, float(prec[j]), float(rec.max()),
                        float(hit[phrase[terms]].sum()) / q_phrase,
                        max(0.0, q_content - float(hit[content[terms]].sum())) / q_total)


def reference_candidates(index, query, k):
    n = len(index)
    idx, wts = [], []
    for term, w in query.items():
        posting = index._postings.get(index._vocab.get(term))
        if not posting or len(posting) > max(50, n // 3):
            continue
        idx.append(np.asarray(posting, dtype=np.int64))
        wts.append(np.full(len(posting), w, dtype=np.float32))
    if not idx:
        return []
    nums, inverse = np.unique(np.concatenate(idx), return_inverse=True)
    acc = np.bincount(inverse, weights=np.concatenate(wts))
    top = np.argpartition(-acc, min(k, len(acc)) - 1)[:k] if len(acc) > k else np.arange(len(acc))
    return [int(nums[i]) for i in top[np.argsort(-acc[top])]]


@pytest.fixture(scope="module")
def kb(analyzer):
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load(read_file(ROOT / "knowledge_base" / "faq.yml").entries)
    queries = [q["q"] for q in load_queries(ROOT / "bench" / "data" / "dev_queries.yml")][::4]
    return r, queries


def _idf(index, feature):
    df = len(index._postings.get(index._vocab.get(feature), ()))
    return math.log(1.0 + (len(index) - df + 0.5) / (df + 0.5))


def _check(r: Retriever, queries: list[str]) -> int:
    index, checked = r.lexical, 0
    for text in queries:
        feats = r.analyzer.features(r.analyzer.canonical(text)).weights
        query_w = index.weigh(feats)
        assert query_w == {f: w * _idf(index, f) for f, w in feats.items()}  # cached IDF is up to date
        nums = index.candidates(query_w, 30)
        assert nums == reference_candidates(index, query_w, 30)
        if not nums:
            continue
        entries = [r.entry(r._ids[n]) for n in nums]
        assert index.score_many(query_w, nums) == [reference_score(index, query_w, e) for e in entries]
        light = index.score_arrays(query_w, nums, detail=False)
        assert light.phrase_coverage is None and light.similarity.tolist() == [
            s.similarity for s in index.score_many(query_w, nums)]
        terms = index.terms(nums[0])
        assert index.contains(nums[0], list(query_w)) == [f in terms for f in query_w]
        checked += len(nums)
    return checked


def test_scores_equal_the_per_entry_code_before_and_after_edits(kb):
    r, queries = kb
    assert _check(r, queries) > 500
    entries = sorted(r._entries.values(), key=lambda e: e.id)
    for e in entries[::6]:
        r.remove(e.id)
    for e in entries[1::7]:
        r.upsert(e.model_copy(update={"question": e.question + "吗", "alternates": e.alternates[:1]}))
    r.upsert(FaqEntry(id="new-longxi", question="龙溪大道限高多少", alternates=["龙溪那边限高"], answer="限高4米"))
    assert _check(r, queries) > 500
    assert r.lexical.contains(10_000, ["u龙"]) == [False]


def test_batched_dense_similarities_equal_one_entry_at_a_time():
    rng = np.random.default_rng(3)
    index = DenseIndex(384)
    for num in range(40):
        vecs = rng.standard_normal((int(rng.integers(1, 4)), 384)).astype(np.float32)
        index.add(num, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    index.remove(7)
    query = rng.standard_normal(384).astype(np.float32)
    nums = [3, 7, 0, 39, 12, 1000, 5]

    def one(num):
        n = index._count.get(num)
        if not n:
            return 0.0
        return float(np.max(np.stack([index.index.reconstruct(num * SLOTS + i) for i in range(n)]) @ query))

    assert index.similarities(query, nums) == [one(n) for n in nums]
    assert index.similarities(query, [7]) == [0.0] and index.similarities(query, []) == []
