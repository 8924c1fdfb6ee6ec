"""The evaluation sets (the shipped KB with the dev queries; the held-out, fresh and blind2-5
KBs with their own queries, the last five written by someone who had seen neither the engine
nor the other sets) and retrievers built on them as `driverhome ask` configures them, shared
by the analysis scripts (calibrate, rankfit, misses). blind2, blind5 and blind6 are never fitted or
tuned on (FIT_SETS leaves them out): they stay the honest estimates for an unseen knowledge
base. blind3 and blind4 (Guizhou) were each first run whole as unseen sets, then their
misses were read; so was blind7 (Sichuan/Chongqing/Hunan), which is not fitted on either."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge_base.dense import load_embedder
from knowledge_base.evaluate import load_queries
from knowledge_base.retriever import Retriever
from knowledge_base.schema import read_file
from knowledge_base.settings import RetrievalSettings
from knowledge_base.text import Analyzer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
SETS = {"dev": (ROOT / "knowledge_base" / "faq.yml", DATA / "dev_queries.yml"),
        "held-out": (DATA / "heldout_kb.yml", DATA / "heldout_queries.yml"),
        "fresh": (DATA / "fresh_kb.yml", DATA / "fresh_queries.yml"),
        "blind2": (DATA / "blind2_kb.yml", DATA / "blind2_queries.yml"),
        "blind3": (DATA / "blind3_kb.yml", DATA / "blind3_queries.yml"),
        "blind4": (DATA / "blind4_kb.yml", DATA / "blind4_queries.yml"),
        "blind5": (DATA / "blind5_kb.yml", DATA / "blind5_queries.yml"),
        "blind6": (DATA / "blind6_kb.yml", DATA / "blind6_queries.yml"),
        "blind7": (DATA / "blind7_kb.yml", DATA / "blind7_queries.yml")}
FIT_SETS = ("dev", "held-out", "fresh", "blind3", "blind4")


def config_settings() -> RetrievalSettings:
    """The `retrieval:` section of the shipped config.yml (what `driverhome ask` runs with)."""
    data = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8")) or {}
    return RetrievalSettings(**(data.get("retrieval") or {}))


def load_sets(settings: RetrievalSettings, names: list[str] | None = None) -> dict[str, tuple[Retriever, list[dict]]]:
    """name -> (a retriever loaded with that set's KB, its queries); one analyzer and model for all."""
    analyzer = Analyzer(ROOT / "knowledge_base" / "dict")
    embedder = load_embedder(settings.model, settings.fallback_model, None)
    out = {}
    for name in names or list(SETS):
        kb, queries = SETS[name]
        r = Retriever(settings, analyzer, embedder)
        r.load(read_file(kb).entries)
        out[name] = (r, load_queries(queries))
    return out
