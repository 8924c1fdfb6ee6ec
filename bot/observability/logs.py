"""Log set-up: readable lines or JSON lines, and no personal data in any record.

Drivers write phone numbers and ID-card numbers into complaints; a log line must never carry
them. `RedactFilter` sits on the handler, so it sees every record of every logger (a filter on
a logger would miss records propagated from its children), and masks the message, the
traceback and string extra fields. Message text itself is only ever logged at DEBUG.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timezone
from typing import TextIO

# Chinese mobile numbers, also as +86 138-1234-5678 or 138 1234 5678: -> 138****5678 (not inside
# a longer run of digits).
PHONE = re.compile(r"(?<!\d)((?:\+?86[- ]?)?1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")
# Resident ID cards: 18 characters (the last may be X) or the old 15 digits -> 110***********123X.
ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{11}|\d{8})(\d{3}[0-9Xx]|\d{4})(?![0-9A-Za-z])")
# Secrets that libraries put into URLs: the Bot API token and ?token= (Rasa's auth token).
BOT_TOKEN = re.compile(r"\b(bot)?\d{5,}:[A-Za-z0-9_-]{30,}")
URL_TOKEN = re.compile(r"([?&](?:token|secret|secret_token)=)[^&\s'\"]+", re.IGNORECASE)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that are chatty at INFO (httpx logs every request URL, which holds the bot token).
NOISY = ("sentence_transformers", "httpx", "httpcore", "jieba", "transformers", "faiss", "alembic",
         "aiohttp.access", "apscheduler")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    """`text` with phone and ID-card numbers masked and URL/bot tokens removed."""
    if not text:
        return text
    text = ID_CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    text = PHONE.sub(r"\1****\2", text)
    text = BOT_TOKEN.sub(lambda m: (m.group(1) or "") + "<token>", text)
    return URL_TOKEN.sub(r"\1***", text)


class RedactFilter(logging.Filter):
    """Masks personal numbers and secrets in the whole record (message, traceback, extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the formatter's error report
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None  # the masked text is what formatters print
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per record: ts, level, logger, msg, plus any `extra=` fields."""
    from pythonjsonlogger.json import JsonFormatter

    class Formatter(JsonFormatter):
        def add_fields(self, log_data, record, message_dict) -> None:
            log_data["ts"] = datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds")
            super().add_fields(log_data, record, message_dict)

    return Formatter("{levelname}{name}{message}", style="{", json_ensure_ascii=False,
                     rename_fields={"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"})


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Install (or replace) the bot's handler on the root logger; returns it.

    Handlers others installed (e.g. a test runner's) are left alone."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactFilter())
    handler._driverhome = True  # type: ignore[attr-defined]  (so a second call replaces it)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_driverhome", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
