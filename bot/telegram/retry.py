"""Updates whose handling failed because the database was unreachable (a restart, a failover,
a network blip) are handled again a little later instead of being dropped.

Only errors that mean "could not talk to the database" qualify: then the failed transaction
did not commit, so handling the update again does not repeat what it did (and ticket filing
is idempotent per message on top of that). Backoff 1, 2, 4, 8, 16 s: about half a minute, well
inside `telegram.max_update_age_s`, after which the update would be skipped as stale anyway.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)
RETRIES = "db_retries"  # bot_data: update_id -> attempts so far
MAX_ATTEMPTS = 5


def database_unreachable(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, (OperationalError, DisconnectionError)):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__
    return False


def handle_again_later(update: object, error: BaseException | None, application: Application) -> bool:
    """Schedule the update again if the database was unreachable; False when it is not for us
    (another error, or out of attempts: then it goes to the normal error handling)."""
    if not isinstance(update, Update) or not database_unreachable(error):
        return False
    tries: dict[int, int] = application.bot_data.setdefault(RETRIES, {})
    attempt = tries.get(update.update_id, 0) + 1
    if attempt > MAX_ATTEMPTS:
        tries.pop(update.update_id, None)
        log.error("update %s: database still unreachable after %d attempts; giving up", update.update_id,
                  MAX_ATTEMPTS)
        return False
    tries[update.update_id] = attempt
    delay = 2.0 ** (attempt - 1)
    log.warning("update %s: database unreachable; handling it again in %.0f s (attempt %d)", update.update_id,
                delay, attempt)

    async def again() -> None:
        await asyncio.sleep(delay)
        if application.running:
            await application.process_update(update)
        if tries.get(update.update_id) == attempt:  # it went through (no newer attempt queued)
            tries.pop(update.update_id, None)

    application.create_task(again(), update=update)
    return True
