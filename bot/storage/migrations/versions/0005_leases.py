"""Named leases (which process runs the study dispatcher and the SLA watcher), merging the
tickets and study branches; an index on study send states (counted by /metrics).

Revision ID: 0005_leases
Revises: 0003_tickets, 0004_study
"""
import sqlalchemy as sa
from alembic import op

from bot.storage.types import UtcDateTime

revision = "0005_leases"
down_revision = ("0003_tickets", "0004_study")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_study_sends_state", "study_sends", ["state"])


def downgrade() -> None:
    op.drop_index("ix_study_sends_state", "study_sends")
    op.drop_table("leases")
