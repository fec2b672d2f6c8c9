"""Attribution: how much each member's contributions are worth, as integer shares. Pure and
deterministic: the same contributions and parameters give the same report, byte for byte.

Method `records x rate x quality x (1 + bonus x uniqueness)`, version 2:

- a contribution's *weight* is `records * q * (10^12 + b * u)` with quality `q`, uniqueness `u`
  and the uniqueness bonus `b` all in parts per million (integers, so no float ever enters); its
  unit is 10^-18 of a record at full quality (`WEIGHT_SCALE`);
- a member's *value*, in micro-units, is `sum over data types of rate(type) * W(type) // 10^18`
  (rounded down once per member), with `rate` in micro-units per record and `W(type)` the sum of
  the member's weights for it;
- a member's *shares* are that value, one share per micro-unit, unless the epoch's values add up
  to more than the contract accepts (`SHARE_CAP`, 2^60 - 1, on each member and on the total): then
  every member's shares are `value * SHARE_CAP // total value` (rounded down per member), the same
  ratio for everyone. Shares are relative, so scaling moves no member's part beyond one share of
  rounding, and no input, however large, can make an epoch the contract refuses.

The report (canonical JSON: sorted keys, no spaces, ASCII) carries the parameters (rates, bonus,
the weight's unit, the cap, the rounding), the scale it applied and, per member and data type,
the contribution count, the records and the two sums the weight is linear in (records x q and
records x q x u), so anyone holding it can recompute every weight and share and the report's
keccak256 (`verify_report`), which is the `reportHash` the contract stores for the epoch; a
member who knows their own contributions can recompute their sums. The report's size grows with
members and data types, not with contributions. Version 1 reports (weights only, no scaling)
still verify.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_hash.auto import keccak

from relayer.errors import InvalidInput

METHOD = "records x rate x quality x (1 + bonus x uniqueness)"
VERSION = "2"
PPM = 1_000_000
MICRO = 1_000_000
WEIGHT_SCALE = PPM * PPM * PPM  # q (ppm) x (10^12 + b x u) (ppm^2)
#: The contract's cap on one member's shares (`MAX_SHARES`) and on the total (`MAX_TOTAL_SHARES`):
#: both 2^60 - 1. A report's shares never pass it (see the module docstring).
MAX_SHARES = 2**60 - 1
MAX_TOTAL_SHARES = 2**60 - 1
SHARE_CAP = min(MAX_SHARES, MAX_TOTAL_SHARES)
#: How a report states its rounding, for a reader who has only the report.
ROUNDING = (
    "value = floor(sum of rate x weight / weightScale) per member; shares = value, or "
    "floor(value x scale.numerator / scale.denominator) per member when the total value is "
    "over shareCap"
)

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


def normalized_address(address: str) -> str:
    """The EIP-55 form of a 0x address given in one case (all lower or all upper, which carry
    no checksum, as wallets and ethers accept them) or already in EIP-55 form. A mixed-case
    address whose checksum is wrong is refused: it is a typo, not another spelling."""
    if not isinstance(address, str) or not address.startswith("0x"):
        raise InvalidInput("must be a 0x address")
    form = checksummed(address)
    digits = address[2:]
    if address != form and digits != digits.lower() and digits != digits.upper():
        raise InvalidInput("must be a 0x address: lower case, or checksummed (EIP-55)")
    return form


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


def weight_of_sums(quality_records: int, unique_records: int, params: Parameters) -> int:
    """The weight of contributions from their sums: `quality_records` = sum of records x q and
    `unique_records` = sum of records x q x u (q, u in ppm); the same as the sum of their
    weights, since records x q x (10^12 + b x u) = 10^12 x records x q + b x records x q x u."""
    return PPM * PPM * quality_records + params.uniqueness_bonus_ppm * unique_records


def value_of(weights: Mapping[str, int], params: Parameters) -> int:
    """Value in micro-units (= shares) of per-data-type weights."""
    return sum(params.rate(t) * w for t, w in weights.items()) // WEIGHT_SCALE


def estimate_shares(
    data_type: str, records: int, quality_ppm: int, uniqueness_ppm: int, params: Parameters
) -> int:
    """Shares one contribution would earn on its own."""
    params.rate(data_type)
    return value_of({data_type: weight(records, quality_ppm, uniqueness_ppm, params)}, params)


def scale(values: Iterable[int], cap: int = SHARE_CAP) -> tuple[int, int]:
    """The ratio (numerator, denominator) that brings values adding up to more than `cap` into
    it: (cap, total), or (1, 1) when they fit already."""
    total = sum(values)
    return (cap, total) if total > cap else (1, 1)


def scaled(value: int, ratio: tuple[int, int]) -> int:
    numerator, denominator = ratio
    return value * numerator // denominator


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
    # member -> data type -> [contributions, records, sum of records x q, of records x q x u]
    by_member: dict[str, dict[str, list[int]]] = {}
    contribution_count = records_total = 0
    for c in contributions:
        params.rate(c.data_type)
        weight(c.records, c.quality_ppm, c.uniqueness_ppm, params)  # validates the ranges
        line = by_member.setdefault(c.member.lower(), {}).setdefault(c.data_type, [0, 0, 0, 0])
        line[0] += 1
        line[1] += c.records
        line[2] += c.records * c.quality_ppm
        line[3] += c.records * c.quality_ppm * c.uniqueness_ppm
        contribution_count += 1
        records_total += c.records
    for member in zeroed:
        by_member.setdefault(member.lower(), {})

    entries = []
    for lowered in sorted(by_member):
        by_type = []
        weights: dict[str, int] = {}
        for data_type, (n, records, quality_records, unique_records) in sorted(
            by_member[lowered].items()
        ):
            # The weight is linear in records x quality and records x quality x uniqueness, so
            # these two sums state it exactly, however many contributions they add up.
            weights[data_type] = weight_of_sums(quality_records, unique_records, params)
            by_type.append(
                {
                    "dataType": data_type,
                    "contributions": n,
                    "records": records,
                    "qualityRecords": str(quality_records),
                    "uniqueQualityRecords": str(unique_records),
                    "weight": str(weights[data_type]),
                }
            )
        entries.append((checksummed(lowered), by_type, value_of(weights, params)))

    ratio = scale(value for _, _, value in entries)
    members = []
    total_value = total_shares = 0
    for address, by_type, value in entries:
        shares = scaled(value, ratio)
        total_value += value
        total_shares += shares
        members.append(
            {
                "address": address,
                "byType": by_type,
                "value": micro_to_text(value),
                "shares": str(shares),
            }
        )
    assert total_shares <= SHARE_CAP  # floor(v x cap / total) summed stays within cap
    return {
        "method": METHOD,
        "version": VERSION,
        "union": {"chainId": chain_id, "address": checksummed(union)},
        "epoch": epoch,
        "parameters": {
            **params.as_json(),
            "weightScale": str(WEIGHT_SCALE),
            "shareCap": str(SHARE_CAP),
            "rounding": ROUNDING,
        },
        "scale": {"numerator": str(ratio[0]), "denominator": str(ratio[1])},
        "inputs": {
            "contributions": contribution_count,
            "records": records_total,
            "members": sum(1 for m in members if m["byType"]),
        },
        "members": members,
        "totals": {"value": micro_to_text(total_value), "shares": str(total_shares)},
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


def _member_value(member: Mapping[str, Any], params: Parameters, version: str) -> int:
    """A report member's value recomputed from its sums (version 2) or weights (version 1)."""
    weights: dict[str, int] = {}
    for by_type in member["byType"]:
        stated = int(by_type["weight"])
        if version != "1":
            computed = weight_of_sums(
                int(by_type["qualityRecords"]), int(by_type["uniqueQualityRecords"]), params
            )
            if computed != stated:
                raise ReportMismatch(
                    f"{member['address']}: the {by_type['dataType']} sums give weight "
                    f"{computed}, the report says {stated}"
                )
        weights[by_type["dataType"]] = stated
    return value_of(weights, params)


def verify_report(report_bytes: bytes, parsed: Mapping[str, Any] | None = None) -> VerifiedReport:
    """Recompute every member's shares and the totals from the report alone, and its hash.
    `parsed` is `json.loads(report_bytes)` when the caller has it already (a million-member
    report takes seconds to parse).

    Raises ReportMismatch if a stated figure does not follow from the report's own parameters
    and sums, or if the bytes are not in canonical form.
    """
    report = json.loads(report_bytes) if parsed is None else parsed
    if canonical(report) != report_bytes:
        raise ReportMismatch("report is not in canonical form")
    version = str(report.get("version"))
    if version not in ("1", VERSION):
        raise ReportMismatch(f"unknown report version {version!r}")
    stated = report["parameters"]
    params = Parameters.from_decimals(
        {t: Decimal(r) for t, r in stated["rates"].items()}, Decimal(stated["uniquenessBonus"])
    )
    values = {m["address"]: _member_value(m, params, version) for m in report["members"]}
    ratio = (1, 1)
    if version != "1":
        if int(stated["weightScale"]) != WEIGHT_SCALE or int(stated["shareCap"]) != SHARE_CAP:
            raise ReportMismatch("the report's weight scale or share cap is not this method's")
        ratio = scale(values.values())
        stated_ratio = (int(report["scale"]["numerator"]), int(report["scale"]["denominator"]))
        if stated_ratio != ratio:
            raise ReportMismatch(f"the report states scale {stated_ratio}, its values give {ratio}")
    shares: dict[str, int] = {}
    for member in report["members"]:
        value = values[member["address"]]
        computed = scaled(value, ratio)
        if computed != int(member["shares"]) or micro_to_text(value) != member["value"]:
            raise ReportMismatch(
                f"{member['address']}: report says {member['shares']} shares, "
                f"its weights give {computed}"
            )
        shares[member["address"]] = computed
    if sum(shares.values()) != int(report["totals"]["shares"]):
        raise ReportMismatch("total shares do not add up")
    if micro_to_text(sum(values.values())) != report["totals"]["value"]:
        raise ReportMismatch("total value does not add up")
    return VerifiedReport(report_hash(report_bytes), int(report["epoch"]), shares)
