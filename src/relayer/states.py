"""The states an epoch and an outbox transaction go through, as the database stores them.

Kept apart from the modules that drive them (`relayer.epochs`, `relayer.outbox`) so that both,
the models and the API schemas can name them without importing each other. The values are the
text stored in the `status` columns: changing one is a data migration, not a rename.
"""

from enum import StrEnum


class EpochStatus(StrEnum):
    """closed (report frozen, batches planned) → posting → pending (every batch in, waiting out
    the attribution delay) → finished (in effect), or vetoed by the guardian; failed when a
    transaction failed (a retry resumes); abandoned when the operator gives up an epoch that
    cannot be posted (see `epochs.abandon`). See `relayer.lifecycle`."""

    CLOSED = "closed"
    POSTING = "posting"
    PENDING = "pending"
    FINISHED = "finished"
    VETOED = "vetoed"
    FAILED = "failed"
    ABANDONED = "abandoned"


#: An epoch in one of these is unfinished: no later epoch may be closed until it is finished
#: or vetoed.
UNFINISHED_EPOCH = (
    EpochStatus.CLOSED,
    EpochStatus.POSTING,
    EpochStatus.PENDING,
    EpochStatus.FAILED,
)


class TxStatus(StrEnum):
    """pending → signed → sent → confirmed | failed (see `relayer.outbox`); superseded when an
    epoch's retry re-plans a failed or still-pending transaction under a new outbox row;
    abandoned when its epoch is abandoned before it was sent."""

    PENDING = "pending"
    SIGNED = "signed"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    ABANDONED = "abandoned"


#: Rows that hold a nonce and wait for their fate.
IN_FLIGHT = (TxStatus.SIGNED, TxStatus.SENT)
UNFINISHED_TX = (TxStatus.PENDING, *IN_FLIGHT)
#: Outcomes that leave nothing more to do for an epoch's transaction.
SETTLED_TX = (TxStatus.CONFIRMED, TxStatus.SUPERSEDED)


class TxPurpose(StrEnum):
    """What an outbox transaction is for."""

    ATTRIBUTION = "attribution"
    FINISH = "finish"
    CLAIM = "claim"
