"""therapists link Telegram for crisis alerts; a second check after "I'm fine"

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("therapist") as batch:
        batch.add_column(sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("invite") as batch:
        batch.alter_column("patient_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("therapist_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_invite_therapist_id_therapist"),
            "therapist",
            ["therapist_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("safety_event") as batch:
        batch.add_column(sa.Column("checked_again_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("left_notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("left_notified_at")
    with op.batch_alter_table("safety_event") as batch:
        batch.drop_column("checked_again_at")
    with op.batch_alter_table("invite") as batch:
        batch.drop_constraint(batch.f("fk_invite_therapist_id_therapist"), type_="foreignkey")
        batch.drop_column("therapist_id")
        batch.alter_column("patient_id", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("therapist") as batch:
        batch.drop_column("linked_at")
