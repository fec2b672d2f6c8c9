"""Epochs wait out the attribution delay: `due_at` (the chain's due time of a pending epoch, in
block-timestamp seconds) and `finished_at` (when it was seen finished or vetoed); an epoch the
relayer recorded as `posted` — its batches and its finish confirmed, under a contract without a
delay — is `finished` now, finished when it was posted.

Revision ID: 0004_epoch_lifecycle
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_epoch_lifecycle"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("epochs", sa.Column("due_at", sa.BigInteger(), nullable=True))
    op.add_column("epochs", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE epochs SET status = 'finished', finished_at = posted_at WHERE status = 'posted'"
    )


def downgrade() -> None:
    # The older relayer knows no pending or vetoed epoch: a pending one was posted (its batches
    # are in), a vetoed one never took effect (failed, for an operator to look at).
    op.execute("UPDATE epochs SET status = 'posted' WHERE status IN ('finished', 'pending')")
    op.execute("UPDATE epochs SET status = 'failed' WHERE status = 'vetoed'")
    with op.batch_alter_table("epochs") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("due_at")
