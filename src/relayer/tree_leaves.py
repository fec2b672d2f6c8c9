"""A root-mode tree's leaves as a report lists them (`[address, offset, previousShares, shares]`,
decimal strings), parsed and hashed in flat loops: at a million leaves every object and call per
leaf costs seconds. Pure; `relayer.tree_check` says what they must be.
"""

from dataclasses import dataclass, field

from sha3 import keccak_256

_UINT64 = 1 << 64
_INT256 = 1 << 256
_INT256_MIN, _INT256_MAX = -(1 << 255), (1 << 255) - 1
#: For EIP-55 without a per-character loop: a hex digit of the address's hash at 8 or above
#: upper-cases the address's character there (0x20 is the ASCII case bit), letters only.
_HASH_HIGH = bytes.maketrans(b"0123456789abcdef", b"\0" * 8 + b"\x20" * 8)
_IS_LETTER = bytes.maketrans(b"0123456789abcdef", b"\0" * 10 + b"\x20" * 6)


@dataclass
class Leaves:
    """A tree's leaves in the report's order, parsed."""

    keys: list[str] = field(default_factory=list)  # lower-case addresses
    members: list[str] = field(default_factory=list)  # as written (EIP-55 when well formed)
    raw: list[bytes] = field(default_factory=list)  # the 20 address bytes
    offsets: list[int] = field(default_factory=list)
    previous: list[int] = field(default_factory=list)
    shares: list[int] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def decimal(text: object) -> int | None:
    """A decimal string in canonical form (no sign but '-', no spaces, no leading zeros)."""
    if type(text) is not str:
        return None
    digits = text[1:] if text[:1] == "-" else text
    # isdigit alone takes other scripts' digits; int() takes spaces, '+' and '_'.
    if not (digits.isascii() and digits.isdigit()) or (digits[0] == "0" and text != "0"):
        return None
    return int(text)


def eip55_address(text: object) -> bytes | None:
    """The 20 bytes of an EIP-55 address, or None."""
    if type(text) is not str or len(text) != 42 or not text.startswith("0x"):
        return None
    lower = text[2:].lower()
    try:
        raw = bytes.fromhex(lower)
        written = text[2:].encode("ascii")
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != 20:  # fromhex skips whitespace
        return None
    digits = lower.encode()
    upper = int.from_bytes(keccak_256(digits).hexdigest()[:40].encode().translate(_HASH_HIGH))
    flips = upper & int.from_bytes(digits.translate(_IS_LETTER))
    return raw if (int.from_bytes(digits) ^ flips).to_bytes(40) == written else None


def _any_address(text: object) -> bytes | None:
    if type(text) is not str or len(text) != 42 or not text.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        return None
    return raw if len(raw) == 20 else None


def parse_leaves(entries: object, checksums: bool = True) -> Leaves:
    """The leaves, in order; `checksums=False` takes any 0x address (a tree whose root the
    chain holds needs no checksum to be trusted)."""
    parsed = Leaves()
    if not isinstance(entries, list):
        parsed.malformed.append("the leaves are not a list")
        return parsed
    for index, entry in enumerate(entries):
        if type(entry) is not list or len(entry) != 4:
            parsed.malformed.append(f"leaf {index} is not [address, offset, previous, shares]")
            continue
        member, offset, previous, shares = entry
        raw = eip55_address(member) if checksums else _any_address(member)
        off, prev, new = decimal(offset), decimal(previous), decimal(shares)
        if raw is None or off is None or prev is None or new is None:
            parsed.malformed.append(f"leaf {index} ({member!r}) is not well formed")
            continue
        if not (_INT256_MIN <= off <= _INT256_MAX and 0 <= prev < _UINT64 and 0 <= new < _UINT64):
            parsed.malformed.append(f"leaf {index} ({member}) has a value out of range")
            continue
        parsed.keys.append(member.lower())
        parsed.members.append(member)
        parsed.raw.append(raw)
        parsed.offsets.append(off)
        parsed.previous.append(prev)
        parsed.shares.append(new)
    return parsed


def rebuilt_root(epoch: int, leaves: Leaves) -> bytes:
    """`merkle.Tree(epoch, leaves).root` for leaves already in ascending order, without its
    index or levels (hashing the same bytes as `merkle.leaf_hash`)."""
    head = epoch.to_bytes(32, "big") + b"\0" * 12
    level: list[bytes] = [
        keccak_256(
            keccak_256(
                head
                + raw
                + (offset % _INT256).to_bytes(32, "big")
                + previous.to_bytes(32, "big")
                + shares.to_bytes(32, "big")
            ).digest()
        ).digest()
        for raw, offset, previous, shares in zip(
            leaves.raw, leaves.offsets, leaves.previous, leaves.shares, strict=True
        )
    ]
    while len(level) > 1:
        # merkle.hash_pair, inlined: a call per inner node is a second at a million leaves.
        paired = [
            keccak_256(a + b if a <= b else b + a).digest()
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root_of(text: object) -> bytes | None:
    if type(text) is not str or len(text) != 66 or not text.startswith("0x"):
        return None
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        return None
