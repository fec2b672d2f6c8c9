"""How long the watcher takes to check a root-mode epoch of N members (default 1,000,000), cold:
the report's bytes hashed and verified (every member's shares recomputed), the report of the
root in force parsed and its leaves rebuilt into the root in force, and the tree checked against
both (relayer.tree_check). The chain reads around it are a handful of calls, whatever N.

    .venv/bin/python bench/watch_roots.py [members] [--out bench/results]

Writes watch_roots.{md,json} into --out when given. Both reports are built the way the relayer
builds them (attribution.build_report, roots.next_leaves, merkle.Tree).
"""

import argparse
import gc
import json
import os
import random
import resource
import time
from pathlib import Path
from typing import Any

from relayer import published_tree
from relayer.attribution import (
    DEFAULT_PARAMETERS,
    ContributionInput,
    build_report,
    canonical,
    checksummed,
    report_hash,
)
from relayer.epoch_check import check_report
from relayer.merkle import Leaf, Tree
from relayer.roots import next_leaves
from relayer.tree_check import OnchainRoot, check_tree

UNION = checksummed("0x" + "ab" * 20)
CHAIN_ID = 31337


def report_of(epoch: int, records: dict[str, int], previous: list[Leaf], start: int) -> bytes:
    built = build_report(
        chain_id=CHAIN_ID,
        union=UNION,
        epoch=epoch,
        contributions=[ContributionInput(m, "health", n, 900_000, 0) for m, n in records.items()],
        params=DEFAULT_PARAMETERS,
    )
    shares = {m["address"]: int(m["shares"]) for m in built["members"]}
    tree = Tree(epoch, next_leaves(previous, start, shares))
    built["tree"] = published_tree.section(tree, epoch - 1, start)
    return canonical(built)


def timed(what: str, figures: dict[str, tuple[float, float]], action: Any) -> Any:
    """Run `action`, recording (wall, CPU) seconds: on a shared machine the CPU time is what
    the check itself costs."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    figures[what] = (
        round(time.perf_counter() - wall, 1),
        round(time.process_time() - cpu, 1),
    )
    print(f"{what}: {figures[what][0]} s wall, {figures[what][1]} s CPU", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("members", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(15)
    members = [checksummed("0x" + rng.randbytes(20).hex()) for _ in range(args.members)]
    first = {m: rng.randrange(1, 5_000) for m in members}
    raw_first = report_of(1, first, [], 0)
    first_tree = json.loads(raw_first)["tree"]
    first_leaves = [Leaf(m, int(o), int(p), int(s)) for m, o, p, s in first_tree["leaves"]]
    start = rng.randrange(1 << 90)
    # Epoch 2: most members' records change, 1% are new.
    second = {m: n + rng.randrange(0, 50) for m, n in first.items()}
    for _ in range(args.members // 100):
        second[checksummed("0x" + rng.randbytes(20).hex())] = rng.randrange(1, 5_000)
    raw = report_of(2, second, first_leaves, start)
    del first_leaves, first_tree, second, first
    gc.collect()
    digest = report_hash(raw)
    print(f"reports built: {len(raw_first) / 1e6:.0f} MB and {len(raw) / 1e6:.0f} MB", flush=True)

    figures: dict[str, tuple[float, float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    problems, _, report = timed(
        "hash, parse and verify the report",
        figures,
        lambda: check_report(raw, CHAIN_ID, UNION, 2, digest),
    )
    previous = timed("parse the previous report", figures, lambda: json.loads(raw_first))
    onchain = OnchainRoot(2, 1, start, bytes.fromhex(previous["tree"]["root"][2:]))
    tree_problems = timed(
        "check the tree (with the previous tree rebuilt)",
        figures,
        lambda: check_tree(report, previous, set(), onchain),
    )
    figures["total"] = (
        round(time.perf_counter() - wall, 1),
        round(time.process_time() - cpu, 1),
    )
    assert problems == [], problems
    assert tree_problems == [], tree_problems
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    load = round(os.getloadavg()[1], 1)  # other jobs on the machine stretch the wall times
    print(f"total: {figures['total']} s (wall, CPU), peak memory {peak_mb} MB", flush=True)
    if args.out is not None:
        result = {
            "members": args.members,
            "seconds": figures,
            "peak_memory_mb": peak_mb,
            "load_average_5min": load,
            "cpus": os.cpu_count(),
            "report_mb": round(len(raw) / 1e6),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "watch_roots.json").write_text(json.dumps(result, indent=2) + "\n")
        lines = [
            f"# The watcher's check of a root-mode epoch: {args.members:,} members",
            "",
            f"Report {result['report_mb']} MB; peak memory {peak_mb} MB (the benchmark's process, "
            "which also built both reports); one process on "
            f"{os.cpu_count()} cores at load average {load}: the CPU column is the check's own "
            "cost, the wall column what it took beside the machine's other work.",
            "",
            "| step | wall s | CPU s |",
            "|---|---|---|",
            *(f"| {step} | {wall} | {cpu} |" for step, (wall, cpu) in figures.items()),
            "",
        ]
        (args.out / "watch_roots.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
