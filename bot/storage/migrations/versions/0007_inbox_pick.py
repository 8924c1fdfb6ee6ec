"""The entry a driver picked from the ones offered for an inbox question: the likeliest home
for that wording, shown to the admin who files it as an alternate.

Revision ID: 0007_inbox_pick
Revises: 0006_ticket_window
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_inbox_pick"
down_revision = "0006_ticket_window"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unanswered") as batch:
        batch.add_column(sa.Column("picked", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unanswered") as batch:
        batch.drop_column("picked")
