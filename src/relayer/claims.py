"""Gasless claims: check a member's EIP-712 `Claim` locally, reserve it, then relay it with
`claimWithSig` from the claim key.

The local check turns the common mistakes (wrong signer, stale nonce, past deadline) into a clear
4xx before any gas is spent; the contract checks everything again. A member whose address is a
contract (an ERC-1271 wallet) cannot be checked locally and is left to the contract's check.

At most one transaction per signed claim: before anything is signed the claim is reserved under
its (member, nonce) pair, which the database keeps unique, so a claim that arrives twice, fifty
times at once, or replayed by someone who saw it in the mempool, is answered from the record
(`200` with the claim as it stands) and never sent again. A different claim for a nonce that is
taken or already used on-chain is a `409` naming what holds it. The policy in
`relayer.claim_policy` bounds what the rest may cost.
"""

import logging
from datetime import datetime, timedelta

from eth_typing import ChecksumAddress, HexStr
from eth_utils import to_checksum_address
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from web3.exceptions import Web3Exception

from relayer import claim_policy, eip712
from relayer.alarms import Alarms
from relayer.chain import UnionChain
from relayer.db import Database, OutboxTx, RelayedClaim, utcnow
from relayer.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NodeUnavailable,
    NotFound,
    RelayerError,
    Unfunded,
)
from relayer.outbox import Outbox
from relayer.root_tree import Trees, current_proof
from relayer.schemas import ClaimIn
from relayer.settings import Settings
from relayer.states import TxPurpose

log = logging.getLogger(__name__)

#: How far below the member's current nonce a signature is looked for, to tell a claim that was
#: already paid (answered from the record, or 409) from one signed by another key (403).
USED_NONCE_LOOKBACK = 64
#: A reservation with no transaction after this long was left by a crash between reserving and
#: signing (the two are seconds apart); it no longer blocks its nonce.
STALE_RESERVATION = timedelta(minutes=2)

#: The claim's status as the API shows it, from its outbox row's.
STATUS = {
    "signed": "queued",  # signed and stored; the node has not taken it yet (re-sent by the loop)
    "sent": "sent",
    "confirmed": "confirmed",
    "failed": "failed",
}


class ClaimOut(BaseModel):
    id: int = Field(description="follow it at GET /v1/claims/{id}")
    member: str
    to: str
    amount: str
    nonce: str
    deadline: str
    status: str = Field(
        description="reserved (being signed) → queued (signed, waiting for the node) → sent → "
        "confirmed, or failed"
    )
    tx_hash: str | None
    block_number: int | None
    error: str | None
    created_at: datetime


def claim_document(chain_id: int, union: str, claim: ClaimIn, nonce: int) -> dict[str, object]:
    return eip712.typed_data(
        chain_id,
        union,
        "Claim",
        {
            "member": claim.member,
            "to": claim.to,
            "amount": claim.amount,
            "nonce": nonce,
            "deadline": claim.deadline,
        },
    )


def _claim_calldata(
    chain: UnionChain, trees: Trees | None, claim: ClaimIn, member: ChecksumAddress
) -> HexStr:
    """`claimWithSig` for this claim; on a root-mode union with the member's leaf and proof of
    the root in force (not signed: only the member's true leaf passes the proof)."""
    signature = bytes.fromhex(claim.signature[2:])
    if not chain.roots:
        return chain.calldata(
            "claimWithSig", member, claim.to, claim.amount, claim.deadline, signature
        )
    assert trees is not None, "a root-mode union's claims need its trees"
    proof = current_proof(trees, chain, member)
    if proof is None:
        raise NotFound(f"{member} has no leaf in the root in force: nothing to claim yet")
    leaf, siblings = proof.call_args()
    return chain.calldata(
        "claimWithSig", member, claim.to, claim.amount, claim.deadline, leaf, siblings, signature
    )


def describe(claim: RelayedClaim) -> ClaimOut:
    row = claim.outbox
    return ClaimOut(
        id=claim.id,
        member=claim.member,
        to=claim.to,
        amount=claim.amount,
        nonce=claim.nonce,
        deadline=claim.deadline,
        status="reserved" if row is None else STATUS.get(row.status, row.status),
        tx_hash=None if row is None else row.tx_hash,
        block_number=None if row is None else row.block_number,
        error=None if row is None else row.error,
        created_at=claim.created_at,
    )


def get(db: Database, claim_id: int) -> ClaimOut:
    with db.session() as session:
        claim = session.get(RelayedClaim, claim_id, options=[selectinload(RelayedClaim.outbox)])
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        return describe(claim)


def relay(
    db: Database,
    chain: UnionChain,
    outbox: Outbox,
    claim: ClaimIn,
    *,
    settings: Settings,
    alarms: Alarms,
    trees: Trees | None = None,
) -> tuple[ClaimOut, bool]:
    """Relay the member's signed claim, or answer from the record: (the claim, whether this
    request relayed it). `outbox` is the claim key's. Node failures are 503, never a 500 or a
    misleading 4xx."""
    try:
        return _relay(db, chain, outbox, claim, settings, alarms, trees)
    except RelayerError:
        raise
    except (Web3Exception, OSError) as exc:
        raise NodeUnavailable(
            f"the chain node failed ({type(exc).__name__}); nothing was sent, try again"
        ) from None


def _relay(
    db: Database,
    chain: UnionChain,
    claim_outbox: Outbox,
    claim: ClaimIn,
    settings: Settings,
    alarms: Alarms,
    trees: Trees | None,
) -> tuple[ClaimOut, bool]:
    member: ChecksumAddress = to_checksum_address(claim.member)
    # The contract compares the deadline with the block's time, so the check here does too.
    if claim.deadline < int(chain.w3.eth.get_block("latest")["timestamp"]):
        raise InvalidInput("the claim's deadline has passed")
    if to_checksum_address(claim.to) == chain.address:
        raise InvalidInput("the union itself cannot receive a claim")
    current = int(chain.view("nonces", member))
    nonce = _signed_nonce(db, chain, settings.chain_id, claim, member, current)
    digest = eip712.digest(claim_document(settings.chain_id, chain.address, claim, nonce))

    with db.session() as session:
        known = _reserved(session, member, nonce)
        if known is not None and not _abandoned(known):
            return _answer_known(known, digest), False
    if nonce < current:
        raise Conflict(
            f"nonce {nonce} of {member} is already used on-chain: this claim was paid, or "
            "another one took its place",
            details=[{"member": member, "nonce": str(nonce), "current_nonce": str(current)}],
        )
    if nonce > current:
        raise Forbidden(
            f"the claim is signed for nonce {nonce}, the member's current nonce is {current}"
        )

    decimals = chain.token_decimals
    claim_policy.check_amount(settings, decimals, claim.amount)
    with db.session() as session:
        claim_policy.check_member_rate(session, settings, member)
    data = _claim_calldata(chain, trees, claim, member)
    gas = claim_outbox.sender.gas(data)  # the contract's refusal surfaces here, before any gas
    cost = gas * claim_outbox.sender.initial_fees().max_fee
    with db.session() as session:
        claim_policy.check_budget(session, settings, cost)
    balance = claim_outbox.sender.balance()
    alarms.check_balance(claim_outbox.role, claim_outbox.signer.address, balance)
    if balance < cost:
        raise Unfunded(
            f"the relayer's claim key cannot pay for this claim now (needs up to {cost} wei); "
            "claim from the wallet, or try later"
        )

    reserved = _reserve(db, claim, member, nonce, digest, cost)
    if not isinstance(reserved, int):
        return reserved, False

    def link(session: Session, row: OutboxTx) -> None:
        session.execute(
            update(RelayedClaim).where(RelayedClaim.id == reserved).values(outbox_id=row.id)
        )

    try:
        claim_outbox.submit(TxPurpose.CLAIM, data, gas=gas, on_stored=link)
    except Exception:
        # Nothing was stored (submit stores the transaction and the link together, then cannot
        # fail): free the nonce for a corrected claim.
        with db.session() as session:
            session.execute(
                delete(RelayedClaim).where(
                    RelayedClaim.id == reserved, RelayedClaim.outbox_id.is_(None)
                )
            )
        raise
    log.info("claim %d of %s (nonce %d) relayed", reserved, member, nonce)
    return get(db, reserved), True


def _signed_nonce(
    db: Database,
    chain: UnionChain,
    chain_id: int,
    claim: ClaimIn,
    member: ChecksumAddress,
    current: int,
) -> int:
    """The nonce the member signed the claim for: the current one, the next (while a claim is
    in flight), or one already used. Forbidden if it is none of them, or not the member's."""
    if chain.w3.eth.get_code(member):
        return current  # a contract wallet: its signature is the contract's to check
    candidates = [
        current,
        current + 1,
        *range(current - 1, max(-1, current - USED_NONCE_LOOKBACK), -1),
    ]
    signer = None
    for nonce in candidates:
        document = claim_document(chain_id, chain.address, claim, nonce)
        recovered = eip712.recover(document, claim.signature)
        if nonce == current:
            signer = recovered
        if recovered == member:
            if nonce == current + 1:
                with db.session() as session:
                    in_flight = _reserved(session, member, current)
                if in_flight is None:
                    break  # signed ahead of a nonce nobody is using: a plain wrong nonce
                raise Conflict(
                    f"claim {in_flight.id} for nonce {current} of {member} is still in flight; "
                    f"send this one (nonce {nonce}) after it is mined",
                    details=[{"claim_id": in_flight.id, "nonce": str(current)}],
                )
            return int(nonce)
    raise Forbidden(
        f"signature is from {signer}, not {member} (or signed for another nonce than the "
        f"current {current})"
    )


def _reserved(session: Session, member: str, nonce: int) -> RelayedClaim | None:
    return session.scalars(
        select(RelayedClaim)
        .options(selectinload(RelayedClaim.outbox))
        .where(RelayedClaim.member == member, RelayedClaim.nonce == str(nonce))
    ).first()


def _abandoned(known: RelayedClaim) -> bool:
    """A reservation that never got its transaction (a crash between reserving and signing)."""
    return known.outbox_id is None and known.created_at < utcnow() - STALE_RESERVATION


def _answer_known(known: RelayedClaim, digest: str) -> ClaimOut:
    """An identical claim gets the record; a different one for the same nonce is a conflict."""
    if known.digest == digest:
        return describe(known)
    described = describe(known)
    raise Conflict(
        f"nonce {known.nonce} of {known.member} is taken by claim {known.id} ({described.status})",
        details=[{"claim_id": known.id, "status": described.status, "tx_hash": described.tx_hash}],
    )


def _reserve(
    db: Database, claim: ClaimIn, member: str, nonce: int, digest: str, cost: int
) -> int | ClaimOut:
    """Take the (member, nonce) pair, atomically: the new reservation's id, or, when another
    request holds the pair, that claim (identical) or a Conflict (different)."""
    for _ in range(2):
        try:
            with db.session() as session:
                row = RelayedClaim(
                    member=member,
                    nonce=str(nonce),
                    digest=digest,
                    to=to_checksum_address(claim.to),
                    amount=str(claim.amount),
                    deadline=str(claim.deadline),
                    max_cost=str(cost),
                )
                session.add(row)
                session.flush()
                return int(row.id)
        except IntegrityError:
            pass
        with db.session() as session:
            known = _reserved(session, member, nonce)
            if known is None:
                continue  # freed meanwhile (its send was refused): try again
            if _abandoned(known):
                log.warning("claim %d: reservation left without a transaction; freed", known.id)
                session.delete(known)
                continue
            return _answer_known(known, digest)
    raise Conflict(f"nonce {nonce} of {member} is being claimed by another request; try again")
