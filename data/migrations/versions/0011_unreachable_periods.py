"""unreachable periods: each time a patient could not be reached (blocked the bot), kept
with when it began and ended, so past periods are not lost when they write again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unreachable_period",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_unreachable_period_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unreachable_period")),
    )
    op.create_index(op.f("ix_unreachable_period_patient_id"), "unreachable_period", ["patient_id"])
    # A patient unreachable now: their current period, from when it was marked. Past ones
    # were never kept, so there is nothing more to carry over.
    op.execute(
        "INSERT INTO unreachable_period (patient_id, started_at) "
        "SELECT id, unreachable_at FROM patient WHERE unreachable_at IS NOT NULL"
    )


def downgrade() -> None:
    # Patient.unreachable_at still holds a current period: nothing is lost that 0010 knew.
    op.drop_index(op.f("ix_unreachable_period_patient_id"), table_name="unreachable_period")
    op.drop_table("unreachable_period")
