"""conversation: barriers, expectations, schedule changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "schedule_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock", sa.String(length=5), nullable=True),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_schedule_change_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_schedule_change_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_change")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_schedule_change_dedupe_key")),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_helpfulness", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rationale_shown_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("backed_off_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("barrier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("option", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("flag_for_therapist", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_barrier_dedupe_key"), ["dedupe_key"])


def downgrade() -> None:

    with op.batch_alter_table("barrier", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_barrier_dedupe_key"), type_="unique")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("flag_for_therapist")
        batch_op.drop_column("option")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("backed_off_at")
        batch_op.drop_column("rationale_shown_at")
        batch_op.drop_column("expected_helpfulness")

    op.drop_table("schedule_change")
