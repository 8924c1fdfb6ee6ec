"""Health of one bot process, for /healthz (Docker's healthcheck, a load balancer, a person).

`fail` (HTTP 503) only when this process cannot do its job and a restart may help: the
database does not answer, or the knowledge base is not loaded. Rasa being down is `degraded`
(HTTP 200): the embedded model answers meanwhile (backend auto), and restarting the bot would
not bring Rasa back.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

OK, DEGRADED, FAIL = "ok", "degraded", "fail"
CRITICAL = ("database", "index")  # a failure of these makes the whole process unhealthy


async def check(app, *, timeout_s: float = 3.0) -> dict:
    """{"status": ok|degraded|fail, "checks": {database, nlu, index}}."""
    database, nlu, index = await asyncio.gather(_database(app.db, timeout_s), _nlu(getattr(app.pipeline, "nlu", None)),
                                                _index(app.kb, timeout_s))
    checks = {"database": database, "nlu": nlu, "index": index}
    if any(checks[name]["status"] == FAIL for name in CRITICAL):
        status = FAIL
    elif any(c["status"] != OK for c in checks.values()):
        status = DEGRADED
    else:
        status = OK
    return {"status": status, "checks": checks}


def http_status(report: dict) -> int:
    return 503 if report["status"] == FAIL else 200


async def _database(db, timeout_s: float) -> dict:
    if db is None:
        return {"status": FAIL, "error": "no database"}

    def select_one() -> None:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.to_thread(select_one), timeout_s)
    except asyncio.TimeoutError:
        return {"status": FAIL, "error": f"no answer within {timeout_s:g} s"}
    except Exception as exc:
        return {"status": FAIL, "error": _one_line(exc)}
    return {"status": OK, "dialect": db.engine.dialect.name, "ms": round((time.perf_counter() - t0) * 1000, 1)}


async def _nlu(nlu) -> dict:
    if nlu is None:
        return {"status": OK, "backend": "none"}
    out = {"backend": nlu.backend}
    if nlu.rasa is None:  # embedded only: trained in-process at start-up
        return {"status": OK, **out}
    out["breaker"] = nlu.rasa.breaker.state
    out["fallbacks"] = nlu.fallbacks
    try:
        await nlu.check_rasa()  # bounded by nlu.timeout_ms; an open breaker answers at once
    except Exception as exc:
        out.update(rasa="down", error=_one_line(exc))
        if nlu.embedded is not None:
            return {"status": DEGRADED, "answering": "embedded", **out}
        return {"status": FAIL, **out}
    out.update(rasa="up", breaker=nlu.rasa.breaker.state)
    return {"status": OK, "answering": "rasa", **out}


async def _index(kb, timeout_s: float) -> dict:
    entries = len(kb.retriever)
    out = {"entries": entries, "backend": kb.retriever.backend}
    if entries:
        return {"status": OK, **out}
    try:  # empty index: is the knowledge base empty too, or was it not loaded?
        stored = await asyncio.wait_for(asyncio.to_thread(kb.store.count), timeout_s)
    except Exception:
        return {"status": DEGRADED, "error": "the index is empty and the database could not be read", **out}
    if stored:
        return {"status": FAIL, "error": f"the index is empty but the database holds {stored} entries", **out}
    return {"status": DEGRADED, "error": "the knowledge base is empty: no answers", **out}


def _one_line(exc: BaseException) -> str:
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}".rstrip(": ")
