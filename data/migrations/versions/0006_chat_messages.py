"""message ids in each patient's chat (48 h), for /forget and for settling a send cut short;
the patient's safety plan

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("from_bot", sa.Boolean(), nullable=False),
        sa.Column("markup_digest", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_chat_message_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
        sa.UniqueConstraint("chat_id", "message_id", name=op.f("uq_chat_message_chat_id")),
    )
    op.create_index(op.f("ix_chat_message_patient_id"), "chat_message", ["patient_id"])
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("safety_plan", sa.JSON(), nullable=True))
    with op.batch_alter_table("nudge_log") as batch:
        batch.add_column(sa.Column("probe_after_message_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("probe_markup", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nudge_log") as batch:
        batch.drop_column("probe_markup")
        batch.drop_column("probe_after_message_id")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("safety_plan")
    op.drop_index(op.f("ix_chat_message_patient_id"), table_name="chat_message")
    op.drop_table("chat_message")
