"""Merkle trees the way @uniswap/merkle-distributor documents and builds them: a leaf is
keccak256(abi.encodePacked(uint256 index, address account, uint256 amount)); leaves are sorted,
each pair is hashed in sorted order (what its MerkleProof checks), and the last node of an odd
layer moves up unpaired."""

from eth_utils import keccak, to_bytes


def leaf(index: int, account: str, amount: int) -> bytes:
    return keccak(index.to_bytes(32, "big") + to_bytes(hexstr=account) + amount.to_bytes(32, "big"))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


class MerkleTree:
    def __init__(self, leaves: list[bytes]) -> None:
        layer = sorted(set(leaves))
        self._position = {node: i for i, node in enumerate(layer)}
        self._layers = [layer]
        while len(layer) > 1:
            layer = [
                _pair(layer[i], layer[i + 1]) if i + 1 < len(layer) else layer[i]
                for i in range(0, len(layer), 2)
            ]
            self._layers.append(layer)

    @property
    def root(self) -> bytes:
        return self._layers[-1][0]

    def proof(self, node: bytes) -> list[bytes]:
        index = self._position[node]
        proof = []
        for layer in self._layers[:-1]:
            sibling = index ^ 1
            if sibling < len(layer):
                proof.append(layer[sibling])
            index //= 2
        return proof


def verify(proof: list[bytes], root: bytes, node: bytes) -> bool:
    """The check MerkleDistributor.claim makes, so a wrong tree fails here before on-chain."""
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root
