"""The relayer's root-mode figures (bench/relayer_bench.py runs them): building a root-mode
epoch's tree and every member's proof for 1,000,000 members (time and peak memory, measured in a
process of its own so that nothing else counts), serving proofs, and the watcher verifying a
1,000,000-member epoch's report.

The members are synthetic but shaped like a real union's second epoch: addresses spread over the
whole address space, every member carried over from a first epoch by the relayer's own rule
(relayer.roots.next_leaves), so offsets are negative 200-bit numbers as they are on-chain.

    .venv/bin/python bench/roots_bench.py [--members N]   # these figures alone, printed
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

from eth_utils import to_checksum_address
from sha3 import keccak_256

from relayer.merkle import Leaf, Tree, leaf_hash, verify
from relayer.roots import UNIT, next_leaves

MEMBERS = 1_000_000
#: The accumulator value at which the synthetic first epoch took effect: about 3.1 million token
#: units per share already paid out before it (scaled by 2^64), so offsets are realistically wide.
FIRST_EPOCH_START = 3_141_592 * UNIT + 12_345
PROOF_SAMPLE = 100_000  # random members whose proofs are read one by one
TREE_TARGET_S, TREE_TARGET_MB = 30, 2_048


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def member_addresses(count: int, checksummed: bool = False) -> list[str]:
    """`count` distinct addresses spread like real ones (keccak of the index)."""
    raw = [
        "0x" + keccak_256(b"roots bench member %d" % i).digest()[12:].hex() for i in range(count)
    ]
    return [to_checksum_address(a) for a in raw] if checksummed else raw


def shares_of(i: int, epoch: int) -> int:
    """Shares that change from one epoch to the next for most members; a few drop to zero."""
    return (i * 7_919 + epoch * 104_729) % 1_000


def epoch_leaves(members: list[str]) -> tuple[list[Leaf], list[Leaf]]:
    """The first epoch's leaves and the second's, the second built by the relayer's rule."""
    first = [Leaf(m, 0, 0, shares_of(i, 1) or 1) for i, m in enumerate(members)]
    shares = {m: shares_of(i, 2) for i, m in enumerate(members)}
    return first, next_leaves(first, FIRST_EPOCH_START, shares)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def tree_child(count: int) -> dict[str, Any]:
    """Run in a process of its own: leaves, the tree, every proof; times and peak memory."""
    baseline = peak_rss_mb()
    members = member_addresses(count)
    started = time.perf_counter()
    first, leaves = epoch_leaves(members)
    rule = time.perf_counter() - started
    del first
    inputs = peak_rss_mb()
    started = time.perf_counter()
    tree = Tree(2, leaves)
    built = time.perf_counter() - started
    started = time.perf_counter()
    longest = 0
    for index in range(len(tree.leaves)):
        longest = max(longest, len(tree.proof(index)))
    proofs = time.perf_counter() - started
    # One proof checked against the root, so the figures are of a tree that works.
    probe = len(tree.leaves) // 3
    assert verify(tree.proof(probe), tree.root, leaf_hash(2, tree.leaves[probe]))
    return {
        "members": count,
        "next_leaves_seconds": round(rule, 2),
        "build_seconds": round(built, 2),
        "every_proof_seconds": round(proofs, 2),
        "tree_and_every_proof_seconds": round(built + proofs, 2),
        "longest_proof": longest,
        "baseline_rss_mb": round(baseline),
        "inputs_rss_mb": round(inputs),
        "peak_rss_mb": round(peak_rss_mb()),
        "target_seconds": TREE_TARGET_S,
        "target_mb": TREE_TARGET_MB,
    }


def bench_tree(count: int) -> dict[str, Any]:
    """`tree_child` in a fresh interpreter: its peak RSS is the tree's and the leaves', alone."""
    progress(f"  tree and every proof for {count:,} members (own process)…")
    out = subprocess.run(
        [sys.executable, __file__, "--tree-child", str(count)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def bench_proofs(tree: Tree, sample: int) -> dict[str, Any]:
    """Proof reads as the route answers them, without HTTP: find the member, collect the
    siblings, hex-encode them, for `sample` random members."""
    rng = random.Random(15)
    members = [tree.leaves[rng.randrange(len(tree.leaves))].member for _ in range(sample)]
    started = time.perf_counter()
    for member in members:
        index = tree.index_of(member)
        assert index is not None
        ["0x" + node.hex() for node in tree.proof(index)]
    seconds = time.perf_counter() - started
    return {
        "members": len(tree.leaves),
        "proofs": sample,
        "seconds": round(seconds, 3),
        "proofs_per_second": round(sample / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--tree-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tree_child:
        print(json.dumps(tree_child(args.tree_child)))
        return
    print(json.dumps(run(args.members), indent=2))


def run(members: int) -> dict[str, Any]:
    """Every root-mode figure; relayer_bench.py stores them under "roots"."""
    results: dict[str, Any] = {"tree": bench_tree(members)}
    progress(f"  proof reads from a {members:,}-member tree…")
    _, leaves = epoch_leaves(member_addresses(members))
    tree = Tree(2, leaves)
    results["proofs"] = bench_proofs(tree, min(PROOF_SAMPLE, members))
    return results


if __name__ == "__main__":
    main()
