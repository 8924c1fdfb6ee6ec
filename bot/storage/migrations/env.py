"""Alembic environment: runs on the connection handed over by `Database.migrate`."""

from alembic import context

from bot.storage.models import Base
import bot.study.models  # noqa: F401,E402  (study tables in the target metadata)
import bot.outbox.models, bot.tickets.models  # noqa: F401,E402  (ticket and outbox tables)
import bot.storage.leases  # noqa: F401,E402  (named leases)

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `Database.migrate` drives migrations
    raise RuntimeError("run migrations through bot.storage.Database.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
