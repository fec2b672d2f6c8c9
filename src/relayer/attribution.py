"""Attribution: how much each member's contributions are worth, as integer shares. Pure and
deterministic: the same contributions and parameters give the same report, byte for byte.

Method `records x rate x quality x (1 + bonus x uniqueness)`, version 1:

- a contribution's *weight* is `records * q * (10^12 + b * u)` with quality `q`, uniqueness `u`
  and the uniqueness bonus `b` all in parts per million (integers, so no float ever enters);
- a member's value, in micro-units, is `sum over data types of rate(type) * W(type) // 10^18`,
  with `rate` in micro-units per record and `W(type)` the sum of the member's weights for it;
- a member's shares are that value: one share per micro-unit of value.

The report (canonical JSON: sorted keys, no spaces, ASCII) carries the parameters and, per
member and data type, the contribution count, records and weight, so anyone holding it can
recompute every member's shares and the report's keccak256 (`verify_report`), which is the
`reportHash` the contract stores for the epoch.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_hash.auto import keccak

from relayer.errors import InvalidInput

METHOD = "records x rate x quality x (1 + bonus x uniqueness)"
VERSION = "1"
PPM = 1_000_000
MICRO = 1_000_000
WEIGHT_SCALE = PPM * PPM * PPM  # q (ppm) x (10^12 + b x u) (ppm^2)
#: The contract's cap on one member's shares and on the total.
MAX_SHARES = 2**60 - 1

#: Value per record by data type, in whole units: the explainer's ordering, most sensitive first.
DEFAULT_RATES: dict[str, Decimal] = {
    "health": Decimal(10),
    "financial": Decimal(10),
    "location": Decimal(5),
    "purchases": Decimal(3),
    "social": Decimal(2),
    "browsing": Decimal(1),
    "device_metadata": Decimal("0.5"),
}
DEFAULT_UNIQUENESS_BONUS = Decimal("0.5")


class ReportMismatch(InvalidInput):
    """A report whose stated shares or totals do not follow from its own parameters."""

    code = "report_mismatch"


def checksummed(address: str) -> str:
    """EIP-55 form of a 0x address (eth_utils' version is ~20x slower, and a report of 10,000
    members needs 10,000 of them)."""
    hexdigits = address.lower().removeprefix("0x")
    if len(hexdigits) != 40 or not all(c in "0123456789abcdef" for c in hexdigits):
        raise InvalidInput(f"not an address: {address!r}")
    digest = keccak(hexdigits.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(nibble, 16) >= 8 else c
        for c, nibble in zip(hexdigits, digest, strict=False)
    )


def is_checksummed(address: object) -> bool:
    """True for a 0x address in its EIP-55 form."""
    if not isinstance(address, str):
        return False
    try:
        return checksummed(address) == address
    except InvalidInput:
        return False


def to_ppm(value: Decimal, name: str) -> int:
    """A fraction in [0, 1] with at most six decimals, as parts per million."""
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise InvalidInput(f"{name} must be between 0 and 1")
    scaled = value * PPM
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{name} has more than six decimals")
    return int(scaled)


def to_micro(value: Decimal, name: str) -> int:
    scaled = value * MICRO
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        raise InvalidInput(f"{name} must be a non-negative number with at most six decimals")
    return int(scaled)


def micro_to_text(micro: int) -> str:
    whole, frac = divmod(micro, MICRO)
    return f"{whole}.{frac:06d}"


@dataclass(frozen=True)
class Parameters:
    """Rates in micro-units of value per record, and the uniqueness bonus in ppm."""

    rates_micro: Mapping[str, int]
    uniqueness_bonus_ppm: int

    @classmethod
    def from_decimals(cls, rates: Mapping[str, Decimal], uniqueness_bonus: Decimal) -> "Parameters":
        bonus = to_micro(uniqueness_bonus, "uniqueness bonus")
        return cls({t: to_micro(r, f"rate of {t}") for t, r in sorted(rates.items())}, bonus)

    def as_json(self) -> dict[str, Any]:
        return {
            "rates": {t: micro_to_text(r) for t, r in sorted(self.rates_micro.items())},
            "uniquenessBonus": micro_to_text(self.uniqueness_bonus_ppm),
            "valueDecimals": 6,
        }

    def rate(self, data_type: str) -> int:
        try:
            return self.rates_micro[data_type]
        except KeyError:
            known = ", ".join(sorted(self.rates_micro))
            raise InvalidInput(f"unknown data type {data_type!r}; known: {known}") from None


DEFAULT_PARAMETERS = Parameters.from_decimals(DEFAULT_RATES, DEFAULT_UNIQUENESS_BONUS)


@dataclass(frozen=True)
class ContributionInput:
    member: str
    data_type: str
    records: int
    quality_ppm: int
    uniqueness_ppm: int


def weight(records: int, quality_ppm: int, uniqueness_ppm: int, params: Parameters) -> int:
    if records < 0 or not 0 <= quality_ppm <= PPM or not 0 <= uniqueness_ppm <= PPM:
        raise InvalidInput("records must be >= 0 and quality, uniqueness within [0, 1]")
    return records * quality_ppm * (PPM * PPM + params.uniqueness_bonus_ppm * uniqueness_ppm)


def value_of(weights: Mapping[str, int], params: Parameters) -> int:
    """Value in micro-units (= shares) of per-data-type weights."""
    return sum(params.rate(t) * w for t, w in weights.items()) // WEIGHT_SCALE


def estimate_shares(
    data_type: str, records: int, quality_ppm: int, uniqueness_ppm: int, params: Parameters
) -> int:
    """Shares one contribution would earn on its own."""
    params.rate(data_type)
    return value_of({data_type: weight(records, quality_ppm, uniqueness_ppm, params)}, params)


def build_report(
    *,
    chain_id: int,
    union: str,
    epoch: int,
    contributions: Iterable[ContributionInput],
    params: Parameters,
    zeroed: Iterable[str] = (),
) -> dict[str, Any]:
    """The epoch's report. `zeroed` are members who held shares before and must be set to 0 if
    they have no contributions now (deleted data, left the union)."""
    by_member: dict[str, dict[str, list[int]]] = {}
    contribution_count = records_total = 0
    for c in contributions:
        params.rate(c.data_type)
        line = by_member.setdefault(c.member.lower(), {}).setdefault(c.data_type, [0, 0, 0])
        line[0] += 1
        line[1] += c.records
        line[2] += weight(c.records, c.quality_ppm, c.uniqueness_ppm, params)
        contribution_count += 1
        records_total += c.records
    for member in zeroed:
        by_member.setdefault(member.lower(), {})

    members = []
    total = 0
    for lowered in sorted(by_member):
        lines = by_member[lowered]
        address = checksummed(lowered)
        shares = value_of({t: line[2] for t, line in lines.items()}, params)
        if shares > MAX_SHARES:
            raise InvalidInput(f"{address} would hold {shares} shares, over {MAX_SHARES}")
        total += shares
        members.append(
            {
                "address": address,
                "byType": [
                    {"dataType": t, "contributions": n, "records": r, "weight": str(w)}
                    for t, (n, r, w) in sorted(lines.items())
                ],
                "value": micro_to_text(shares),
                "shares": str(shares),
            }
        )
    if total > MAX_SHARES:
        raise InvalidInput(f"total shares {total} are over the contract's cap {MAX_SHARES}")
    return {
        "method": METHOD,
        "version": VERSION,
        "union": {"chainId": chain_id, "address": checksummed(union)},
        "epoch": epoch,
        "parameters": params.as_json(),
        "inputs": {
            "contributions": contribution_count,
            "records": records_total,
            "members": sum(1 for m in members if m["byType"]),
        },
        "members": members,
        "totals": {"value": micro_to_text(total), "shares": str(total)},
    }


def canonical(report: Mapping[str, Any]) -> bytes:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def report_hash(report_bytes: bytes) -> str:
    return "0x" + keccak(report_bytes).hex()


@dataclass(frozen=True)
class VerifiedReport:
    report_hash: str
    epoch: int
    shares: dict[str, int]


def verify_report(report_bytes: bytes) -> VerifiedReport:
    """Recompute every member's shares and the totals from the report alone, and its hash.

    Raises ReportMismatch if a stated figure does not follow from the report's own parameters
    and weights, or if the bytes are not in canonical form.
    """
    report = json.loads(report_bytes)
    if canonical(report) != report_bytes:
        raise ReportMismatch("report is not in canonical form")
    params = Parameters.from_decimals(
        {t: Decimal(r) for t, r in report["parameters"]["rates"].items()},
        Decimal(report["parameters"]["uniquenessBonus"]),
    )
    shares: dict[str, int] = {}
    for member in report["members"]:
        weights = {line["dataType"]: int(line["weight"]) for line in member["byType"]}
        computed = value_of(weights, params)
        if computed != int(member["shares"]) or micro_to_text(computed) != member["value"]:
            raise ReportMismatch(
                f"{member['address']}: report says {member['shares']} shares, "
                f"its weights give {computed}"
            )
        shares[member["address"]] = computed
    if sum(shares.values()) != int(report["totals"]["shares"]):
        raise ReportMismatch("total shares do not add up")
    return VerifiedReport(report_hash(report_bytes), int(report["epoch"]), shares)
