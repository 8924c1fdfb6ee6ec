"""The NLU entry point for the bot: one `parse(text)` whatever the backend.

backend `embedded`: the in-process model only. `rasa`: the Rasa server only (errors are
raised). `auto`: Rasa while it is healthy, the embedded model otherwise, so a message is
never held up longer than `timeout_ms` by a slow or dead server (the circuit breaker stops
even that after `breaker_failures` failures in a row, and retries after `breaker_reset_s`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from . import training_data
from .entities import EntityExtractor
from .rasa_backend import CircuitBreaker, RasaBackend, RasaUnavailable
from .settings import NluSettings
from .understanding import Understanding

log = logging.getLogger(__name__)


class NluService:
    def __init__(self, settings: NluSettings, root: Path, backend: str | None = None):
        self.settings = settings.resolve(Path(root))
        self.backend = backend or settings.backend
        if self.backend not in ("embedded", "rasa", "auto"):
            raise ValueError(f"unknown NLU backend: {self.backend}")
        self.fallbacks = 0  # messages answered by the embedded model because Rasa was not
        self._on_rasa: bool | None = None  # last state logged (auto)
        self._loop: asyncio.AbstractEventLoop | None = None  # for parse_sync
        self.embedded = None
        if self.backend != "rasa":
            from .embedded import EmbeddedNlu

            self.embedded = EmbeddedNlu(self.settings.data_file, self.settings.dict_dir)
        self.rasa: RasaBackend | None = None
        if self.backend != "embedded":
            extractor = self.embedded.entities if self.embedded else \
                EntityExtractor(training_data.load(self.settings.data_file), self.settings.dict_dir)
            s = self.settings
            self.rasa = RasaBackend(s.rasa_url, s.token, s.timeout_ms / 1000,
                                    CircuitBreaker(s.breaker_failures, s.breaker_reset_s), extractor)

    async def parse(self, text: str) -> Understanding:
        if self.rasa is None:
            return self.embedded.parse(text)
        if self.embedded is None:
            return await self.rasa.parse(text)
        try:
            result = await self.rasa.parse(text)
        except RasaUnavailable as exc:
            self.fallbacks += 1
            self._state(False, str(exc))
            return self.embedded.parse(text)
        self._state(True)
        return result

    def _state(self, on_rasa: bool, reason: str = "") -> None:
        """One log line per change of backend, not one per message."""
        if on_rasa == self._on_rasa:
            return
        self._on_rasa = on_rasa
        if on_rasa:
            log.info("NLU: using the Rasa server at %s", self.settings.rasa_url)
        else:
            log.warning("NLU: Rasa server at %s unavailable (%s); using the embedded model",
                        self.settings.rasa_url, reason)

    async def check_rasa(self) -> dict:
        """The server's /status; raises RasaUnavailable with a one-line reason."""
        if self.rasa is None:
            raise RasaUnavailable("the Rasa backend is not enabled")
        return await self.rasa.status()

    # -- synchronous use (command line) -------------------------------------------------
    def _run(self, coro):
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def parse_sync(self, text: str) -> Understanding:
        """`parse` for code without an event loop (the CLI); not for use inside one."""
        if self.rasa is None:
            return self.embedded.parse(text)
        return self._run(self.parse(text))

    def check_rasa_sync(self) -> dict:
        return self._run(self.check_rasa())

    def close(self) -> None:
        """Counterpart of `aclose` after synchronous use."""
        if self._loop is not None:
            self._loop.run_until_complete(self.aclose())
            self._loop.close()
            self._loop = None

    async def aclose(self) -> None:
        if self.rasa is not None:
            await self.rasa.aclose()
