"""Contributions: recording what members contributed (never the data itself) and deleting it
on request. All-or-nothing: one bad item rejects the whole batch and nothing is written."""

import time

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relayer import eip712
from relayer.attribution import PPM, SHARE_CAP, Parameters, estimate_shares
from relayer.db import Contribution, UsedSignature
from relayer.errors import Conflict, Forbidden, InvalidInput
from relayer.schemas import ContributionIn, DeletionRequest

ZERO_ADDRESS = "0x" + "00" * 20
#: Longest a signed deletion request may be valid for, so a leaked one soon goes stale.
MAX_DELETION_WINDOW = 3600


def consent_document(chain_id: int, union: str, item: ContributionIn) -> dict[str, object]:
    """The EIP-712 `Contribution` a member signs to consent to one contribution being counted."""
    return eip712.typed_data(
        chain_id,
        union,
        "Contribution",
        {
            "member": item.member,
            "dataType": item.data_type,
            "records": item.records,
            "qualityPpm": int(item.quality * PPM),
            "uniquenessPpm": int(item.uniqueness * PPM),
            "contentHash": item.content_hash,
        },
    )


def record(
    session: Session,
    items: list[ContributionIn],
    *,
    params: Parameters,
    chain_id: int,
    union: str,
    operator: bool,
    max_items: int,
    head_block: int,
) -> list[int]:
    """Validate every item, then store them all; returns the new row ids.

    Without the operator token every item needs the member's own consent signature; with it, a
    signature is optional but still checked when given. `head_block` is the chain's latest block
    now: a `leave()` mined after it came after these contributions.
    """
    if len(items) > max_items:
        raise InvalidInput(f"at most {max_items} contributions per request, got {len(items)}")
    hashes = [item.content_hash.lower() for item in items]
    if len(set(hashes)) != len(hashes):
        raise Conflict("the batch repeats a content hash")
    refused = {ZERO_ADDRESS: "the zero address", union.lower(): "the union itself"}
    for index, item in enumerate(items):
        if (who := refused.get(item.member.lower())) is not None:
            raise InvalidInput(f"contribution {index}: {who} cannot hold shares")
        alone = estimate_shares(
            item.data_type,
            item.records,
            int(item.quality * PPM),
            int(item.uniqueness * PPM),
            params,
        )
        if alone > SHARE_CAP:
            # An epoch scales its shares into the contract's range, but one contribution worth
            # more than a member may ever hold is a mistake, not data.
            raise InvalidInput(
                f"contribution {index} alone is worth {alone} shares, over the contract's "
                f"cap of {SHARE_CAP} per member"
            )
        if item.signature is None and not operator:
            raise Forbidden(
                f"contribution {index} needs the member's signature or the operator token"
            )
        if item.signature is not None:
            eip712.require_signer(
                consent_document(chain_id, union, item), item.signature, item.member
            )
    existing = session.scalars(
        select(Contribution.content_hash).where(Contribution.content_hash.in_(hashes))
    ).first()
    if existing is not None:
        raise Conflict(f"content hash {existing} was already contributed")
    rows = [
        Contribution(
            member=item.member,
            data_type=item.data_type,
            records=item.records,
            quality_ppm=int(item.quality * PPM),
            uniqueness_ppm=int(item.uniqueness * PPM),
            content_hash=content_hash,
            signature=item.signature,
            recorded_block=head_block,
        )
        for item, content_hash in zip(items, hashes, strict=True)
    ]
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a content hash was contributed concurrently") from None
    return [row.id for row in rows]


def deletion_document(chain_id: int, union: str, member: str, deadline: int) -> dict[str, object]:
    return eip712.typed_data(
        chain_id, union, "DataDeletion", {"member": member, "deadline": deadline}
    )


def delete_member_data(
    session: Session,
    member: str,
    *,
    chain_id: int,
    union: str,
    operator: bool,
    request: DeletionRequest | None,
    now: float | None = None,
) -> int:
    """Delete every contribution record of `member`; returns how many were deleted.

    The operator may do it on the member's behalf; otherwise the member's `DataDeletion`
    signature is required, valid until its deadline (at most an hour ahead) and only once.
    """
    if not operator:
        if request is None:
            raise Forbidden("deleting data needs the member's signature or the operator token")
        now = time.time() if now is None else now
        if request.deadline < now:
            raise InvalidInput("the signed deletion request has expired")
        if request.deadline > now + MAX_DELETION_WINDOW:
            raise InvalidInput(f"deadline may be at most {MAX_DELETION_WINDOW} s ahead")
        document = deletion_document(chain_id, union, member, request.deadline)
        eip712.require_signer(document, request.signature, member)
        digest = eip712.digest(document)
        if session.get(UsedSignature, digest) is not None:
            raise Conflict("this deletion request was already used")
        session.add(UsedSignature(digest=digest, purpose="data_deletion"))
    count = session.scalar(
        select(func.count()).select_from(Contribution).where(Contribution.member == member)
    )
    session.execute(delete(Contribution).where(Contribution.member == member))
    return int(count or 0)
