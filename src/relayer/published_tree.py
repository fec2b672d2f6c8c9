"""A root-mode report's `"tree"` section as published: written from a tree (`section`), and read
back into the tree it describes (`read`), so that anyone holding the report file rebuilds every
leaf hash, the root and any member's proof without the relayer or its database. Pure, no I/O.

The section (see `IDataUnionRoots`):

    "tree": {"contract": "DataUnionRoots", "epoch": 7, "previousEpoch": 6,
             "previousEpochStart": "123", "leafEncoding": "...", "layout": "...",
             "root": "0x..", "totalShares": "..",
             "leaves": [["0xChecksummed", "offset", "previousShares", "shares"], ...]}

with the leaves in ascending address order and every integer a decimal string.
"""

import re
from dataclasses import dataclass
from typing import Any

from sha3 import keccak_256

from relayer.errors import InvalidInput
from relayer.merkle import Leaf, Tree

CONTRACT = "DataUnionRoots"
LEAF_ENCODING = (
    "keccak256(keccak256(abi.encode(uint64 epoch,address member,int256 offset,"
    "uint64 previousShares,uint64 shares)))"
)
LAYOUT = (
    "leaves in ascending address order; sorted-pair keccak256; a node without partner is carried up"
)
_UINT64 = 1 << 64
_INT255 = 1 << 255
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX = b"0123456789abcdef"
_HIGH_NIBBLE = bytes.maketrans(_HEX, b"\0" * 8 + b"\x20" * 8)
_LETTER = bytes.maketrans(_HEX, b"\0" * 10 + b"\x20" * 6)


class ReportTreeError(InvalidInput):
    """A report whose tree section is missing, malformed, or does not rebuild to its root."""

    code = "invalid_report_tree"


@dataclass(frozen=True, slots=True)
class PublishedTree:
    """A report's tree, rebuilt from its leaves (the rebuilt root equals the stated one)."""

    union: str | None  # the report's union address (None if the report names none)
    chain_id: int | None
    epoch: int
    previous_epoch: int
    previous_epoch_start: int
    total_shares: int
    tree: Tree

    @property
    def root(self) -> bytes:
        return self.tree.root

    def claim_args(self, member: str) -> tuple[tuple[int, int, int], list[bytes]] | None:
        """`member`'s leaf (the contract's Leaf tuple) and proof, or None without a leaf."""
        index = self.tree.index_of(member)
        if index is None:
            return None
        return self.tree.leaves[index].as_tuple(), self.tree.proof(index)


def eip55(address: str) -> str:
    """The EIP-55 form of a 0x address, in a few C-level steps (about 2 µs, where eth_utils'
    takes 50 µs or more, and a report of a million members writes and reads a million): a letter
    is upper case where its nibble of keccak256(lower-case hex) is 8 or more, and upper case is
    the ASCII code less 0x20."""
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a 0x address: {address!r}")
    lower = address[2:].lower().encode()
    high = keccak_256(lower).hexdigest()[:40].encode().translate(_HIGH_NIBBLE)
    mask = int.from_bytes(high, "big") & int.from_bytes(lower.translate(_LETTER), "big")
    return "0x" + (int.from_bytes(lower, "big") - mask).to_bytes(40, "big").decode()


def section(tree: Tree, previous_epoch: int, previous_epoch_start: int) -> dict[str, Any]:
    """The report's `"tree"` key for `tree`, built on the root in force `previous_epoch` (0:
    none) that took effect at accumulator value `previous_epoch_start`."""
    return {
        "contract": CONTRACT,
        "epoch": tree.epoch,
        "previousEpoch": previous_epoch,
        "previousEpochStart": str(previous_epoch_start),
        "leafEncoding": LEAF_ENCODING,
        "layout": LAYOUT,
        "root": "0x" + tree.root.hex(),
        "totalShares": str(sum(leaf.shares for leaf in tree.leaves)),
        "leaves": [
            [
                eip55(leaf.member),
                str(leaf.offset),
                str(leaf.previous_shares),
                str(leaf.shares),
            ]
            for leaf in tree.leaves
        ],
    }


def _integer(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ReportTreeError(f"{what} is not a decimal integer")
    try:
        number = int(value)
    except ValueError:
        raise ReportTreeError(f"{what} is not a decimal integer") from None
    if not low <= number < high:
        raise ReportTreeError(f"{what} is out of range")
    return number


_FIELDS = (("offset", -_INT255, _INT255), ("previousShares", 0, _UINT64), ("shares", 0, _UINT64))


def _leaf(entry: Any, position: int) -> Leaf:
    """One leaf, checked; the messages are built only for a bad leaf (a million good ones are
    read per report)."""
    if not isinstance(entry, list) or len(entry) != 4:
        raise ReportTreeError(f"leaf {position} is not [address, offset, previousShares, shares]")
    member, *fields = entry
    if not isinstance(member, str) or not _ADDRESS.fullmatch(member) or eip55(member) != member:
        raise ReportTreeError(f"leaf {position}'s address is not a checksummed 0x address")
    values = []
    for value, (name, low, high) in zip(fields, _FIELDS, strict=True):
        number = int(value) if type(value) is str and value.lstrip("-").isdigit() else None
        if number is None or not low <= number < high:
            values.append(_integer(value, f"leaf {position}'s {name}", low, high))  # raises
        else:
            values.append(number)
    return Leaf(member, values[0], values[1], values[2])


def read(report: Any) -> PublishedTree:
    """The tree a report publishes, rebuilt from its leaves; ReportTreeError if the report has
    no tree section, a malformed one, or leaves that do not rebuild to the root it states."""
    tree_section = report.get("tree") if isinstance(report, dict) else None
    if not isinstance(tree_section, dict):
        raise ReportTreeError("the report has no tree section: it is not a root-mode report")
    if tree_section.get("contract") != CONTRACT:
        raise ReportTreeError(f"the report's tree is not for {CONTRACT}")
    epoch = _integer(tree_section.get("epoch"), "the tree's epoch", 1, _UINT64)
    entries = tree_section.get("leaves")
    if not isinstance(entries, list) or not entries:
        raise ReportTreeError("the tree has no leaves")
    try:
        tree = Tree(epoch, [_leaf(entry, i) for i, entry in enumerate(entries)])
    except ValueError as exc:  # a member with two leaves
        raise ReportTreeError(str(exc)) from None
    stated = tree_section.get("root")
    if not isinstance(stated, str) or stated.lower() != "0x" + tree.root.hex():
        raise ReportTreeError(
            f"the leaves rebuild to root 0x{tree.root.hex()}, not the root the report states: "
            "the file is damaged or was altered"
        )
    union = report.get("union") if isinstance(report.get("union"), dict) else {}
    address, chain_id = union.get("address"), union.get("chainId")
    return PublishedTree(
        union=address if isinstance(address, str) else None,
        chain_id=chain_id if isinstance(chain_id, int) and not isinstance(chain_id, bool) else None,
        epoch=epoch,
        previous_epoch=_integer(tree_section.get("previousEpoch", 0), "previousEpoch", 0, _UINT64),
        previous_epoch_start=_integer(
            tree_section.get("previousEpochStart", "0"), "previousEpochStart", 0, 1 << 256
        ),
        total_shares=_integer(tree_section.get("totalShares"), "totalShares", 0, 1 << 256),
        tree=tree,
    )
