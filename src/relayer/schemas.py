"""Typed request and response bodies shared by the services and the API."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from relayer.attribution import normalized_address
from relayer.errors import InvalidInput
from relayer.states import EpochStatus, TxPurpose, TxStatus

MAX_UINT256 = 2**256 - 1
HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")


def _checksummed(value: str) -> str:
    try:
        return normalized_address(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


#: A 0x address in any single case (normalised to EIP-55) or in its EIP-55 form.
Address = Annotated[
    str, StringConstraints(min_length=42, max_length=42), AfterValidator(_checksummed)
]
Bytes32 = Annotated[str, StringConstraints(pattern=HEX32.pattern)]
Signature = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]


def _uint_from_text_or_int(value: Any) -> Any:
    """An integer as a JSON number or, for JavaScript clients (whose numbers stop being exact at
    2^53), as a decimal string: responses carry amounts as strings, so requests may too."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 78:
            raise ValueError("must be a decimal integer string")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer (or a decimal integer string)")
    return value


UINT_TEXT = BeforeValidator(_uint_from_text_or_int)


def uint_schema(minimum: int, maximum: int) -> WithJsonSchema:
    """The OpenAPI schema of an integer field that takes a JSON integer or a decimal string."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": minimum, "maximum": maximum},
                {"type": "string", "pattern": "^[0-9]{1,78}$"},
            ],
            "description": "an integer, as a JSON number or a decimal string",
        }
    )


#: Integers a client may send as a JSON number or a decimal string (`UINT_TEXT`).
Records = Annotated[int, UINT_TEXT, Field(ge=1, le=10**12), uint_schema(1, 10**12)]
Deadline = Annotated[int, UINT_TEXT, Field(ge=0, le=2**64), uint_schema(0, 2**64)]
TokenUnits = Annotated[int, UINT_TEXT, Field(ge=1, le=MAX_UINT256), uint_schema(1, MAX_UINT256)]
Uint256 = Annotated[int, Field(strict=True, ge=0, le=MAX_UINT256)]
PositiveUint256 = Annotated[int, Field(strict=True, ge=1, le=MAX_UINT256)]


def _whole_number_text(value: object) -> object:
    """A string of decimal digits is read as the number it spells: JSON numbers above 2^53 lose
    precision in JavaScript, so wallets send uint256 values as strings. Signs, exponents,
    fractions and whitespace stay refused."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,78}", value):
            raise ValueError("must be a whole number: an integer or a string of decimal digits")
        return int(value)
    return value


_UINT_TEXT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": "^[0-9]{1,78}$"},
        ],
        "description": "uint256, as a decimal string (preferred) or a JSON integer",
    }
)
#: uint256 inputs that take decimal strings as well as JSON integers.
Uint256Input = Annotated[
    int,
    BeforeValidator(_whole_number_text),
    Field(strict=True, ge=0, le=MAX_UINT256),
    _UINT_TEXT_SCHEMA,
]
PositiveUint256Input = Annotated[
    int,
    BeforeValidator(_whole_number_text),
    Field(strict=True, ge=1, le=MAX_UINT256),
    _UINT_TEXT_SCHEMA,
]
Fraction = Annotated[
    Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6, allow_inf_nan=False)
]


#: Characters no text field may hold: NUL (PostgreSQL cannot store it in text, SQLite would) and
#: unpaired UTF-16 surrogates (not encodable as UTF-8, so no database can store them either).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: Any) -> None:
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise ValueError("text may not contain NUL or unpaired surrogate characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item)


class Request(BaseModel):
    """Request bodies refuse unknown fields (a typo is an error, not a silent default) and text
    that no database can store, in any field, on every backend alike."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _only_storable_text(cls, data: Any) -> Any:
        _storable(data)
        return data


class ContributionIn(Request):
    member: Address
    data_type: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    records: Records
    quality: Fraction
    uniqueness: Fraction
    content_hash: Bytes32 = Field(description="keccak256 of the data with a secret salt")
    signature: Signature | None = Field(
        default=None,
        description="The member's EIP-712 `Contribution` signature; required without the "
        "operator token",
    )


class ContributionBatch(Request):
    contributions: list[ContributionIn] = Field(min_length=1)


class ContributionsAccepted(BaseModel):
    accepted: int
    ids: list[int]


class DeletionRequest(Request):
    deadline: Deadline
    signature: Signature


class DataDeleted(BaseModel):
    member: str
    deleted: int
    note: str = "shares go to 0 at the next epoch; earnings already credited stay claimable"


class ClaimIn(Request):
    member: Address
    to: Address
    amount: PositiveUint256Input
    deadline: Uint256Input
    signature: Signature


class TxOut(BaseModel):
    purpose: TxPurpose
    status: TxStatus
    epoch: int | None
    batch: int | None
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    error: str | None


class EpochOut(BaseModel):
    number: int
    status: EpochStatus = Field(
        description="closed → posting → pending → finished, or vetoed; failed (post it again, or"
        " abandon it)"
    )
    report_hash: str
    members: int
    total_shares: str
    closed_at: datetime
    posted_at: datetime | None = Field(description="when its last batch was confirmed")
    due_at: datetime | None = Field(
        description="while pending: when it can be finished (the chain's clock); it takes "
        "effect only once finished, and the guardian may veto it until then"
    )
    finished_at: datetime | None = Field(description="when it was seen finished or vetoed")
    batches: int
    batches_confirmed: int
    error: str | None
    transactions: list[TxOut]


class LeafOut(BaseModel):
    """A member's leaf of a root-mode epoch (the contract's `Leaf`), integers as decimal strings;
    field names as in the contract and the report's `tree` section."""

    model_config = ConfigDict(populate_by_name=True)

    offset: str
    previous_shares: str = Field(alias="previousShares")
    shares: str


class TreeProofOut(BaseModel):
    """A member's leaf of one epoch's tree and its proof, what `claim` and `leave` take."""

    epoch: int
    root: Bytes32
    leaf: LeafOut
    proof: list[Bytes32]


class MemberProofOut(TreeProofOut):
    """The member's leaf and proof in the root in force, and in the pending root if any."""

    pending: TreeProofOut | None
