"""License offers buyers pay against, and the on-chain deposits made against each of them.

A license's `id` is a short slug; its on-chain `licenseId` (the `bytes32` a buyer passes to
`deposit`) is the id's ASCII bytes right-padded with zeros, so it reads back as text in any block
explorer. Each indexed `RevenueDeposited` carrying that `licenseId` is listed with the epoch whose
shares split it, so a payment can be followed to the report (and the members) it paid:

- revenue is split by the shares in force when it arrives, which are those of the latest epoch
  posted before it;
- revenue that arrives while an epoch is being posted, or while no member holds shares (before
  the first epoch), is held by the contract and split when that epoch is finished, by its shares;
- `epoch` is None while the contract still holds the revenue.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relayer.chain import UnionChain
from relayer.db import ChainEvent, License
from relayer.errors import Conflict, NotFound
from relayer.members import TokenAmount, token_amount
from relayer.replay import Distribution, load_events, replay
from relayer.schemas import Bytes32, Request, TokenUnits

LICENSE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,30}$"


LicenseSlug = Annotated[str, StringConstraints(pattern=LICENSE_ID_PATTERN)]
Price = TokenUnits


class LicenseIn(Request):
    id: LicenseSlug = Field(description="a slug: lower-case letters, digits, '.', '_', '-'")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    terms_hash: Bytes32 = Field(description="keccak256 (or any bytes32 digest) of the terms")
    price: Price = Field(description="in base units of the pool token")


class LicenseOut(BaseModel):
    id: str
    license_id: str = Field(description="the bytes32 licenseId buyers pass to deposit()")
    title: str
    terms_hash: str
    price: TokenAmount
    created_at: datetime


class LicenseDeposit(BaseModel):
    payer: str
    amount: TokenAmount = Field(description="what arrived, fee included")
    fee: TokenAmount
    net: TokenAmount = Field(description="amount - fee: what the members share")
    tx_hash: str
    block_number: int
    block_time: datetime
    epoch: int | None = Field(
        description="the epoch whose shares split it; None while the contract still holds it"
    )


class LicenseDetail(LicenseOut):
    deposits: list[LicenseDeposit]
    total_paid: TokenAmount


def license_hash(license_id: str) -> str:
    """The on-chain bytes32 licenseId of a license slug, as 0x-hex."""
    raw = license_id.encode("ascii")
    if len(raw) > 31:
        raise ValueError("license ids are at most 31 characters")
    return "0x" + raw.ljust(32, b"\x00").hex()


def _out(row: License, decimals: int) -> LicenseOut:
    return LicenseOut(
        id=row.id,
        license_id=row.license_hash,
        title=row.title,
        terms_hash=row.terms_hash,
        price=token_amount(int(row.price), decimals),
        created_at=row.created_at,
    )


def create(session: Session, chain: UnionChain, offer: LicenseIn) -> LicenseOut:
    """Record a new license offer; Conflict if its id is taken."""
    if session.get(License, offer.id) is not None:
        raise Conflict(f"license {offer.id!r} already exists")
    row = License(
        id=offer.id,
        license_hash=license_hash(offer.id),
        title=offer.title,
        terms_hash=offer.terms_hash.lower(),
        price=str(offer.price),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # created concurrently since the check above
        raise Conflict(f"license {offer.id!r} already exists") from None
    return _out(row, chain.token_decimals)


def list_all(session: Session, chain: UnionChain) -> list[LicenseOut]:
    decimals = chain.token_decimals
    rows = session.scalars(select(License).order_by(License.created_at, License.id))
    return [_out(row, decimals) for row in rows]


def _split_epochs(session: Session) -> dict[int, int]:
    """Deposit row id → the epoch whose shares split it, for every distributed deposit."""
    epochs: dict[int, int] = {}
    for step in replay(load_events(session)):
        if isinstance(step, Distribution):
            epochs.update((deposit.id, step.epoch) for deposit in step.deposits)
    return epochs


def get(session: Session, chain: UnionChain, license_id: str) -> LicenseDetail:
    """The license with every indexed deposit against it, traced to the splitting epoch."""
    row = session.get(License, license_id)
    if row is None:
        raise NotFound(f"no license {license_id!r}")
    decimals = chain.token_decimals
    deposits = list(
        session.scalars(
            select(ChainEvent)
            .where(ChainEvent.name == "RevenueDeposited", ChainEvent.license_id == row.license_hash)
            .order_by(ChainEvent.block_number, ChainEvent.log_index)
        )
    )
    epochs = _split_epochs(session) if deposits else {}
    traced = []
    for deposit in deposits:
        amount, fee = int(deposit.amount or 0), int(deposit.fee or 0)
        traced.append(
            LicenseDeposit(
                payer=deposit.account or "",
                amount=token_amount(amount, decimals),
                fee=token_amount(fee, decimals),
                net=token_amount(amount - fee, decimals),
                tx_hash=deposit.tx_hash,
                block_number=deposit.block_number,
                block_time=deposit.block_time,
                epoch=epochs.get(deposit.id),
            )
        )
    total = sum(int(d.amount or 0) for d in deposits)
    return LicenseDetail(
        **_out(row, decimals).model_dump(),
        deposits=traced,
        total_paid=token_amount(total, decimals),
    )
