"""An index on tickets by branch and creation time: a report is compared with the newest open
tickets of its branch within the link window, and without it that lookup walked the branch's
whole history (every ticket, when no branches are configured).

Revision ID: 0006_ticket_window
Revises: 0005_leases
"""
from alembic import op

revision = "0006_ticket_window"
down_revision = "0005_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_branch_created", "tickets", ["branch_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_branch_created", "tickets")
