"""Chain events: a named column for each value the events carry.

Until now `amount` held an amount, shares or a total, and `extra` a fee, a recipient or a report
hash, by event.

Moves the stored values of every existing row (the one place that knew which meant what was the
indexer's docstring):

- RevenueDeposited: `amount` stays, `extra` → `fee`;
- SharesSet: `amount` → `shares`;
- AttributionPosted, AttributionFinished: `amount` → `total_shares`, `extra` → `report_hash`;
- Claimed: `amount` stays, `extra` → `recipient`.

`members` (AttributionPosted's member count) was never stored: it is NULL for the events indexed
before this revision and set for those after. The downgrade moves the values back (dropping
`members`).

Revision ID: 0003
Revises: 0002_relayed_claims
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_relayed_claims"
branch_labels = None
depends_on = None

ADDRESS = sa.String(42)
HASH = sa.String(66)
UINT = sa.String(78)
ATTRIBUTIONS = ("AttributionPosted", "AttributionFinished")

#: The columns as the data migration sees them (never the models: they follow the head).
events = sa.table(
    "chain_events",
    sa.column("name", sa.String),
    sa.column("amount", UINT),
    sa.column("extra", UINT),
    sa.column("fee", UINT),
    sa.column("recipient", ADDRESS),
    sa.column("shares", UINT),
    sa.column("total_shares", UINT),
    sa.column("report_hash", HASH),
)


def upgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.add_column(sa.Column("fee", UINT, nullable=True))
        batch.add_column(sa.Column("recipient", ADDRESS, nullable=True))
        batch.add_column(sa.Column("shares", UINT, nullable=True))
        batch.add_column(sa.Column("total_shares", UINT, nullable=True))
        batch.add_column(sa.Column("report_hash", HASH, nullable=True))
        batch.add_column(sa.Column("members", sa.BigInteger(), nullable=True))
    c = events.c
    op.execute(events.update().where(c.name == "RevenueDeposited").values(fee=c.extra))
    op.execute(events.update().where(c.name == "SharesSet").values(shares=c.amount, amount=None))
    op.execute(
        events.update()
        .where(c.name.in_(ATTRIBUTIONS))
        .values(total_shares=c.amount, report_hash=c.extra, amount=None)
    )
    op.execute(events.update().where(c.name == "Claimed").values(recipient=c.extra))
    with op.batch_alter_table("chain_events") as batch:
        batch.drop_column("extra")


def downgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.add_column(sa.Column("extra", UINT, nullable=True))
    c = events.c
    op.execute(events.update().where(c.name == "RevenueDeposited").values(extra=c.fee))
    op.execute(events.update().where(c.name == "SharesSet").values(amount=c.shares))
    op.execute(
        events.update()
        .where(c.name.in_(ATTRIBUTIONS))
        .values(amount=c.total_shares, extra=c.report_hash)
    )
    op.execute(events.update().where(c.name == "Claimed").values(extra=c.recipient))
    with op.batch_alter_table("chain_events") as batch:
        for column in ("members", "report_hash", "total_shares", "shares", "recipient", "fee"):
            batch.drop_column(column)
