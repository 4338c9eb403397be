"""a patient's plan closed by their clinic (discharged), and the goodbye said

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("goodbye_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("goodbye_sent_at")
        batch.drop_column("discharged_at")
