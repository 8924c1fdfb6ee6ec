"""Daily study: library, per-group schedules, the send ledger, quiz answers, weekly summaries.

Revision ID: 0004_study
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_study"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_items",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("quiz", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "study_schedules",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("send_time", sa.String(5), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "study_sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("poll_state", sa.String(16), nullable=True),
        sa.Column("poll_attempts", sa.Integer(), nullable=False),
        sa.Column("poll_next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_id", sa.String(64), nullable=True),
        sa.Column("poll_message_id", sa.BigInteger(), nullable=True),
        sa.Column("correct_option", sa.Integer(), nullable=True),
        sa.UniqueConstraint("chat_id", "day", name="uq_study_sends_chat_day"),
        sa.UniqueConstraint("poll_id", name="uq_study_sends_poll_id"),
    )
    op.create_index("ix_study_sends_chat_id", "study_sends", ["chat_id"])
    op.create_table(
        "study_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("send_id", sa.Integer(), sa.ForeignKey("study_sends.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("send_id", "user_id", name="uq_study_answers_send_user"),
    )
    op.create_index("ix_study_answers_send_id", "study_answers", ["send_id"])
    op.create_index("ix_study_answers_chat_id", "study_answers", ["chat_id"])
    op.create_table(
        "study_summaries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("branch", sa.String(80), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.UniqueConstraint("branch", "week", name="uq_study_summaries_branch_week"),
    )


def downgrade() -> None:
    op.drop_index("ix_study_answers_chat_id", "study_answers")
    op.drop_index("ix_study_answers_send_id", "study_answers")
    op.drop_index("ix_study_sends_chat_id", "study_sends")
    for table in ("study_summaries", "study_answers", "study_sends", "study_schedules", "study_items"):
        op.drop_table(table)
