"""Root mode's leaves from one epoch to the next, pure: the rule the relayer builds each tree by
and a watcher checks it against (see `IDataUnionRoots` for the arithmetic).

A member's leaf of the next epoch carries their shares in the epoch in force now
(`previous_shares`) and an `offset` such that, with `S` the accumulator value at which the epoch
in force took effect,

    offset' = offset + (previous_shares - shares) * S

keeps their earnings exact: on-chain, `offset + (previous - shares) * start + shares * R` is what
a leaf has earned at accumulator `R`, and the next leaf's formula, at its own start, picks up
exactly where this one stops. A member new to the union starts at offset 0 with no previous
shares. Members who left on-chain are dropped (their earnings are frozen in the contract), and
so are members without shares in either epoch who never earned a whole unit: nothing of theirs
can ever be claimed. Everyone else stays in every tree, shares or not, so what they earned stays
provable.
"""

from collections.abc import Container, Iterable, Mapping

from relayer.merkle import Leaf

#: One token unit in the contract's scaled units.
UNIT = 1 << 64


def next_leaves(
    previous: Iterable[Leaf],
    epoch_start: int,
    shares: Mapping[str, int],
    departed: Container[str] = (),
) -> list[Leaf]:
    """The next epoch's leaves. `previous` are the leaves of the root in force (none before the
    first), which took effect at accumulator value `epoch_start`; `shares` the next epoch's
    shares by address; `departed` lower-case addresses that left on-chain."""
    wanted = {member.lower(): (member, amount) for member, amount in shares.items()}
    leaves: list[Leaf] = []
    for leaf in previous:
        key = leaf.member.lower()
        if key in departed:
            continue
        offset = leaf.offset + (leaf.previous_shares - leaf.shares) * epoch_start
        new = wanted.pop(key, (leaf.member, 0))[1]
        if leaf.shares == 0 and new == 0 and offset < UNIT:
            continue
        leaves.append(Leaf(leaf.member, offset, leaf.shares, new))
    for key, (member, amount) in wanted.items():
        if amount > 0 and key not in departed:
            leaves.append(Leaf(member, 0, 0, amount))
    return leaves


def earned_scaled(leaf: Leaf, epoch_start: int, reward_per_share: int) -> int:
    """What `leaf` has earned at accumulator value `reward_per_share`, scaled: the contract's
    `_earnedScaled` (0 where a wrong tree makes it negative)."""
    earned = (
        leaf.offset
        + (leaf.previous_shares - leaf.shares) * epoch_start
        + leaf.shares * reward_per_share
    )
    return max(earned, 0)
