"""nudge delivery: scheduler lease, delivery states, follow-ups, unreachable patients

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("silent_nudges", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("reduced_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("nudge_log") as batch:
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("nudge_log") as batch:
        batch.drop_column("attempts")
        batch.drop_column("followed_up_at")
        batch.drop_column("answered_at")
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("reduced_at")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("silent_nudges")
        batch.drop_column("unreachable_at")
    op.drop_table("scheduler_lease")
