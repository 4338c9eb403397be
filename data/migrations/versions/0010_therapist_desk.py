"""the therapist's desk in Telegram: an audit of who read or changed what, sessions held,
where a therapist is in a multi-step command, and when their daily digest goes out

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("therapist") as batch:
        batch.add_column(sa.Column("digest_time", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("digest_sent_on", sa.Date(), nullable=True))
    op.execute("UPDATE therapist SET digest_time = '17:00'")
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("set_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("introduced_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("planned_when", sa.String(length=80), nullable=True))
    # Every task so far came from a plan file: met at its first check-in, not introduced.
    op.execute("UPDATE assignment SET set_by = 'plan', introduced_at = CURRENT_TIMESTAMP")
    with op.batch_alter_table("assignment") as batch:
        batch.alter_column("set_by", existing_type=sa.String(length=16), nullable=False)
    op.create_table(
        "assignment_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_assignment_change_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_change")),
    )
    op.create_index(op.f("ix_assignment_change_assignment_id"), "assignment_change", ["assignment_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"])
    op.create_index(op.f("ix_audit_event_patient_id"), "audit_event", ["patient_id"])
    op.create_table(
        "session_mark",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("therapist_id", sa.String(length=64), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_session_mark_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_session_mark_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_mark")),
    )
    op.create_index(op.f("ix_session_mark_patient_id"), "session_mark", ["patient_id"])
    op.create_table(
        "desk_step",
        sa.Column("therapist_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_desk_step_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_desk_step")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assignment_change_assignment_id"), table_name="assignment_change")
    op.drop_table("assignment_change")
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("planned_when")
        batch.drop_column("introduced_at")
        batch.drop_column("set_by")
    with op.batch_alter_table("therapist") as batch:
        batch.drop_column("digest_sent_on")
        batch.drop_column("digest_time")
    op.drop_table("desk_step")
    op.drop_index(op.f("ix_session_mark_patient_id"), table_name="session_mark")
    op.drop_table("session_mark")
    op.drop_index(op.f("ix_audit_event_patient_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_table("audit_event")
