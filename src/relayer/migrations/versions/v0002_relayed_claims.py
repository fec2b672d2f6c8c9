"""Relayed gasless claims: one row per signed claim the relayer took on, unique per member and
nonce, so a claim that arrives twice (or fifty times at once) is answered from the record and
never sent twice; its transaction is linked when the signed transaction is stored.

Revision ID: 0002_relayed_claims
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_relayed_claims"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDRESS = sa.String(42)
HASH = sa.String(66)
UINT = sa.String(78)  # uint256 as decimal text
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "relayed_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", ADDRESS, nullable=False),
        sa.Column("nonce", UINT, nullable=False),
        sa.Column("digest", HASH, nullable=False),
        sa.Column("to", ADDRESS, nullable=False),
        sa.Column("amount", UINT, nullable=False),
        sa.Column("deadline", UINT, nullable=False),
        sa.Column("max_cost", UINT, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member", "nonce"),
        sa.UniqueConstraint("outbox_id"),
    )
    op.create_index("ix_relayed_claims_member", "relayed_claims", ["member"])
    op.create_index("ix_relayed_claims_created_at", "relayed_claims", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_relayed_claims_created_at", table_name="relayed_claims")
    op.drop_index("ix_relayed_claims_member", table_name="relayed_claims")
    op.drop_table("relayed_claims")
