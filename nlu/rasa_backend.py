"""Client of a Rasa 3.6 NLU server (`rasa run --enable-api`): POST /model/parse with a short
timeout behind a circuit breaker, so a slow or dead server costs one timeout, not one per
message."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import httpx

from .entities import EntityExtractor
from .understanding import COMPLAINT_BIAS, Entity, Understanding, from_scores

FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier; the real ranking is still there


class RasaUnavailable(Exception):
    """The server did not answer (in time, or at all), or the breaker is open."""


class CircuitBreaker:
    """Closed: requests go through. After `failures` consecutive failures: open, nothing goes
    through for `reset_s` seconds. Then half-open: one trial request; success closes the
    breaker, failure opens it again for another `reset_s`."""

    def __init__(self, failures: int = 3, reset_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.reset_s, self._clock = failures, reset_s, clock
        self.state = "closed"
        self.failures = 0
        self._opened_at = 0.0
        self._trial = False  # a half-open trial request is in flight

    def allow(self) -> bool:
        if self.state == "open" and self._clock() - self._opened_at >= self.reset_s:
            self.state, self._trial = "half-open", False
        if self.state == "half-open":
            if self._trial:
                return False
            self._trial = True
            return True
        return self.state == "closed"

    def release(self) -> None:
        """The request was abandoned (cancelled): neither a success nor a failure."""
        self._trial = False

    def success(self) -> None:
        self.state, self.failures, self._trial = "closed", 0, False

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.max_failures:
            self.state, self._opened_at, self._trial = "open", self._clock(), False


class RasaBackend:
    backend = "rasa"

    def __init__(self, url: str, token: str, timeout_s: float, breaker: CircuitBreaker,
                 entities: EntityExtractor, complaint_bias: float = COMPLAINT_BIAS):
        self.url, self._token, self.timeout_s = url.rstrip("/"), token, timeout_s
        self.breaker, self.entities, self.complaint_bias = breaker, entities, complaint_bias
        self.requests = 0  # HTTP requests sent (the breaker's effect is visible here)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # created lazily, inside the event loop that uses it
            self._client = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(self.timeout_s))
        return self._client

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        if not self.breaker.allow():
            raise RasaUnavailable(f"circuit open after {self.breaker.failures} failures")
        self.requests += 1
        try:
            # wait_for bounds the whole exchange, not each phase as httpx's timeout does.
            resp = await asyncio.wait_for(
                self._http().request(method, path, params={"token": self._token}, **kwargs), self.timeout_s)
            resp.raise_for_status()
            data = resp.json()
        except asyncio.TimeoutError:
            self.breaker.failure()
            raise RasaUnavailable(f"no answer within {self.timeout_s * 1000:.0f} ms") from None
        except (httpx.HTTPError, ValueError) as exc:
            self.breaker.failure()
            first_line = (str(exc).splitlines() or [""])[0]
            raise RasaUnavailable(f"{type(exc).__name__}: {first_line}".strip(": ")) from None
        except BaseException:  # cancelled while waiting: let the next message try again
            self.breaker.release()
            raise
        self.breaker.success()
        return data

    async def status(self) -> dict:
        """GET /status (the loaded model); raises RasaUnavailable."""
        return await self._call("GET", "/status")

    async def parse(self, text: str) -> Understanding:
        return self.to_understanding(text, await self._call("POST", "/model/parse", json={"text": text}))

    def to_understanding(self, text: str, data: dict) -> Understanding:
        """Rasa's answer as an Understanding: the full intent ranking (without nlu_fallback,
        whose low confidence is kept by the other intents) and entities merged with ours."""
        scores = {i["name"]: float(i["confidence"]) for i in data.get("intent_ranking") or []
                  if i.get("name") and i["name"] != FALLBACK_INTENT}
        if not scores and (data.get("intent") or {}).get("name") not in (None, FALLBACK_INTENT):
            scores = {data["intent"]["name"]: float(data["intent"].get("confidence") or 0.0)}
        found = [Entity(e["entity"], str(e.get("value", "")), int(e["start"]), int(e["end"]))
                 for e in data.get("entities") or [] if "start" in e and "end" in e]
        return from_scores(scores, text, self.entities.merge(text, found), self.backend,
                           complaint_bias=self.complaint_bias)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
