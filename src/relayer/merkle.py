"""The Merkle tree of a root-mode epoch (`DataUnionRoots`), pure and without I/O, so the relayer,
the watcher, the CLI and anyone holding the published report build the same tree and proofs.

- A leaf is `keccak256(keccak256(abi.encode(uint64 epoch, address member, int256 offset,
  uint64 previousShares, uint64 shares)))`, the contract's `leafHash` (hashed twice, so no leaf
  can pass for an inner node).
- Leaves are in ascending order of address; each level pairs nodes 2i and 2i+1 and hashes them in
  sorted order (OpenZeppelin `MerkleProof`, so a proof needs no left/right flags); a last node
  without a partner is carried up unchanged. A tree of one leaf has that leaf as its root.

Hashing uses pysha3's keccak (a C call of about 1 µs): a tree of a million members is three
million hashes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from sha3 import keccak_256

_WORD = 32
_INT256 = 1 << 256


@dataclass(frozen=True, slots=True)
class Leaf:
    """One member's entry in an epoch's tree (`IDataUnionRoots.Leaf` plus whose it is)."""

    member: str  # 0x address, any case
    offset: int
    previous_shares: int
    shares: int

    def as_tuple(self) -> tuple[int, int, int]:
        """The contract's `Leaf` struct as web3 encodes it."""
        return (self.offset, self.previous_shares, self.shares)


def leaf_hash(epoch: int, leaf: Leaf) -> bytes:
    """The contract's `leafHash(epoch, member, leaf)`."""
    encoded = b"".join(
        (
            epoch.to_bytes(_WORD, "big"),
            bytes.fromhex(leaf.member[2:]).rjust(_WORD, b"\0"),
            (leaf.offset % _INT256).to_bytes(_WORD, "big"),
            leaf.previous_shares.to_bytes(_WORD, "big"),
            leaf.shares.to_bytes(_WORD, "big"),
        )
    )
    digest: bytes = keccak_256(keccak_256(encoded).digest()).digest()
    return digest


def hash_pair(a: bytes, b: bytes) -> bytes:
    digest: bytes = keccak_256(a + b if a <= b else b + a).digest()
    return digest


class Tree:
    """Every level of the tree, leaves first, kept for proofs: 32 bytes per node and about two
    nodes per leaf (a million members: about 200 MB in Python objects)."""

    def __init__(self, epoch: int, leaves: Sequence[Leaf]) -> None:
        if not leaves:
            raise ValueError("a tree needs at least one leaf")
        keyed = sorted((int(leaf.member, 16), i) for i, leaf in enumerate(leaves))
        for (before, _), (after, i) in pairwise(keyed):
            if before == after:
                raise ValueError(f"{leaves[i].member} has two leaves")
        ordered = [leaves[i] for _, i in keyed]
        self.epoch = epoch
        self.leaves: list[Leaf] = ordered
        self._index = {leaf.member.lower(): i for i, leaf in enumerate(ordered)}
        level = [leaf_hash(epoch, leaf) for leaf in ordered]
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            paired = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
            self.levels.append(level)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def index_of(self, member: str) -> int | None:
        return self._index.get(member.lower())

    def leaf_of(self, member: str) -> Leaf | None:
        index = self.index_of(member)
        return None if index is None else self.leaves[index]

    def proof(self, index: int) -> list[bytes]:
        """The siblings from the leaf up; levels where the node had no partner add nothing."""
        proof = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """`MerkleProof.verify`, for checking a proof served or rebuilt off-chain."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root
