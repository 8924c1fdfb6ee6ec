"""The photo, voice note or file a complaint offered with buttons came with, so a confirmed
draft is filed with it like a complaint filed at once.

Revision ID: 0008_draft_media
Revises: 0007_inbox_pick
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_draft_media"
down_revision = "0007_inbox_pick"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_drafts") as batch:
        batch.add_column(sa.Column("media", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_drafts") as batch:
        batch.drop_column("media")
