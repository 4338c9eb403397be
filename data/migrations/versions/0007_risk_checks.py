"""the crisis question's answer (possible risk: asked, never the words)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safety_event") as batch:
        batch.add_column(sa.Column("answer", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safety_event") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("answer")
