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
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chain import free_port
from eth_utils import to_checksum_address
from serving import LocalUnion, http_load, local_union, relayer_settings, serve_env, wait_serving
from sha3 import keccak_256
from sqlalchemy import insert

from relayer import epochs, lifecycle, migrate, published_tree
from relayer.attribution import (
    DEFAULT_PARAMETERS,
    DEFAULT_RATES,
    ContributionInput,
    build_report,
    canonical,
)
from relayer.context import Context
from relayer.db import Contribution
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


def relayer_members(count: int) -> list[str]:
    """Checksummed addresses for the relayer's database (what its API validates)."""
    return member_addresses(count, checksummed=True)


def load_contributions(context: Context, members: list[str]) -> None:
    """One contribution per member, inserted in bulk (not what is measured)."""
    types = sorted(DEFAULT_RATES)
    rows = [
        {
            "member": member,
            "data_type": types[i % len(types)],
            "records": 1 + i % 997,
            "quality_ppm": 500_000 + (i * 7919) % 500_001,
            "uniqueness_ppm": (i * 104_729) % 1_000_001,
            "content_hash": f"0x{i:064x}",
        }
        for i, member in enumerate(members)
    ]
    with context.db.session() as session:
        for start in range(0, len(rows), 50_000):
            session.execute(insert(Contribution), rows[start : start + 50_000])


def epoch_through_the_relayer(chain: LocalUnion, context: Context, count: int) -> dict[str, Any]:
    """A root-mode epoch of `count` members the way an operator runs one: close (report and
    tree), post (one postRoot), the attribution delay, finish."""
    members = relayer_members(count)
    load_contributions(context, members)
    started = time.perf_counter()
    with context.db.session() as session:
        closed = epochs.close(session, context.chain, context.outbox, context.settings)
    closing = time.perf_counter() - started
    started = time.perf_counter()
    outcome = epochs.post(context.db, context.outbox, closed.number)
    posting = time.perf_counter() - started
    assert outcome.status == "pending", outcome.error
    chain.chain.advance(3_600)
    status = lifecycle.finish(context.db, context.chain, context.outbox, closed.number)
    assert status == "finished", status
    with context.db.session() as session:
        report = epochs.report_bytes(session, closed.number)
    gas = sum(tx.gas_used or 0 for tx in outcome.transactions)
    return {
        "members": count,
        "close_seconds": round(closing, 2),
        "post_seconds": round(posting, 2),
        "post_gas": gas,
        "report_mb": round(len(report) / 2**20, 1),
        "sample": random.Random(7).sample(members, min(5_000, count)),
    }


def bench_proof_reads(count: int, requests: int) -> dict[str, Any]:
    """GET /v1/members/{address}/proof from `relayer serve` on a root-mode union whose root in
    force has `count` members: the first read (the tree built from the stored report), then
    `requests` reads of random members over 32 connections."""
    workdir = Path(tempfile.mkdtemp(prefix="roots-bench-"))
    with local_union("DataUnionRoots") as chain:
        settings = relayer_settings(chain, f"sqlite:///{workdir / 'roots.db'}")
        migrate.upgrade(settings.database_url)
        context = Context.from_settings(settings)
        progress(f"  a root-mode epoch of {count:,} members through the relayer…")
        epoch = epoch_through_the_relayer(chain, context, count)
        context.close()
        sample = epoch.pop("sample")
        paths = [f"/v1/members/{member}/proof" for member in sample]
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "relayer.cli", "serve", "--port", str(port)],
            env=serve_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_serving(port)
            progress("  proof reads through the HTTP API…")
            started = time.perf_counter()
            asyncio.run(http_load(port, paths[:1], 1, 1, deadline_s=300))
            first = time.perf_counter() - started
            asyncio.run(http_load(port, paths, 400, 8))  # warm up
            load = asyncio.run(http_load(port, paths, requests, 32))
            rss = _peak_rss_of(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "epoch": epoch,
        "route": "GET /v1/members/{address}/proof",
        "first_read_seconds": round(first, 2),
        "requests": load.requests,
        "distinct_members": len(paths),
        "connections": 32,
        "seconds": round(load.seconds, 2),
        "requests_per_second": round(load.requests / load.seconds),
        "p50_ms": round(load.percentile(0.50) * 1000, 1),
        "p99_ms": round(load.percentile(0.99) * 1000, 1),
        "server_peak_rss_mb": rss,
        "target_per_second": 1000,
    }


def _peak_rss_of(pid: int) -> int | None:
    """The process's peak resident memory (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def watcher_reports(count: int) -> tuple[bytes, bytes, dict[str, Any]]:
    """Two consecutive root-mode reports of `count` members, as the relayer publishes them
    (canonical JSON: attribution and tree), and what the chain holds for the second."""
    members = relayer_members(count)
    types = sorted(DEFAULT_RATES)
    texts, chain_view = [], {}
    previous: list[Leaf] = []
    for epoch, start in ((1, 0), (2, FIRST_EPOCH_START)):
        contributions = [
            ContributionInput(
                member, types[i % len(types)], 1 + (i * epoch) % 997, 900_000, 100_000
            )
            for i, member in enumerate(members)
        ]
        report = build_report(
            chain_id=31337,
            union="0x5FbDB2315678afecb367f032d93F642f64180aa3",
            epoch=epoch,
            contributions=contributions,
            params=DEFAULT_PARAMETERS,
        )
        shares = {m["address"]: int(m["shares"]) for m in report["members"]}
        tree = Tree(epoch, next_leaves(previous, start, shares))
        report["tree"] = published_tree.section(tree, epoch - 1, start)
        texts.append(canonical(report))
        chain_view[epoch] = (tree.root, report["tree"]["totalShares"])
        previous = tree.leaves
    onchain = {
        "epoch": 2,
        "previous_epoch": 1,
        "previous_epoch_start": FIRST_EPOCH_START,
        "previous_root": chain_view[1][0],
        "pending_root": chain_view[2][0],
        "pending_total": int(chain_view[2][1]),
    }
    return texts[0], texts[1], onchain


def bench_watcher(count: int) -> dict[str, Any]:
    """The watcher's check of a `count`-member root-mode epoch (relayer.tree_check): parse both
    published reports, then rebuild every leaf hash and both roots and check the total, the
    order and the offset rule against the previous report."""
    try:
        from relayer import tree_check
    except ImportError:
        return {"skipped": "relayer.tree_check is not on this branch yet"}
    progress(f"  two {count:,}-member reports for the watcher…")
    previous_text, text, onchain = watcher_reports(count)
    progress("  the watcher's tree check…")
    started = time.perf_counter()
    report, previous = json.loads(text), json.loads(previous_text)
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    problems = tree_check.check_tree(report, previous, (), tree_check.OnchainRoot(**onchain))
    checked = time.perf_counter() - started
    assert problems == [], problems  # a sound epoch: the figure is of a full check
    return {
        "tree_check": _source_of(tree_check),
        "members": count,
        "report_mb": round(len(text) / 2**20, 1),
        "parse_seconds": round(parsed, 2),
        "check_seconds": round(checked, 2),
        "total_seconds": round(parsed + checked, 2),
        "target_seconds": 120,
    }


def _source_of(module: Any) -> str:
    """Where the timed check came from: its file, and the git commit of its checkout."""
    path = Path(module.__file__)
    commit = subprocess.run(
        ["git", "-C", str(path.parent), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{path.parent.parent.parent.name}@{commit or '?'}"


def markdown_rows(roots: dict[str, Any]) -> list[str]:
    """The root-mode lines of bench/results/relayer.md's table."""
    rows = []
    t = roots.get("tree")
    if t:
        rows.append(
            f"| root mode: tree and every proof for {t['members']:,} members "
            f"(relayer.merkle.Tree, own process) | build {t['build_seconds']} s + every proof "
            f"{t['every_proof_seconds']} s = {t['tree_and_every_proof_seconds']} s (longest "
            f"proof {t['longest_proof']}); peak RSS {t['peak_rss_mb']:,} MB "
            f"({t['inputs_rss_mb']:,} MB of it the leaves); next_leaves "
            f"{t['next_leaves_seconds']} s "
            f"| < {t['target_seconds']} s, < {t['target_mb']:,} MB |"
        )
    p = roots.get("proofs")
    if p:
        rows.append(
            f"| root mode: proofs of random members from a {p['members']:,}-member tree, in "
            f"process (lookup + siblings + hex) | {p['proofs_per_second']:,} proofs/s | |"
        )
    h = roots.get("http")
    if h:
        e = h["epoch"]
        rows.append(
            f"| root mode: an epoch of {e['members']:,} members through the relayer (close: "
            f"attribution report + tree; post: one postRoot) | close {e['close_seconds']} s, post "
            f"{e['post_seconds']} s, {e['post_gas']:,} gas; report {e['report_mb']} MB | |"
        )
        rows.append(
            f"| root mode: {h['route']}, {e['members']:,}-member root, {h['distinct_members']:,} "
            f"random members ({h['requests']:,} requests, {h['connections']} connections) "
            f"| {h['requests_per_second']:,} req/s, p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms; "
            f"first read (tree built from the stored report) {h['first_read_seconds']} s; server "
            f"peak RSS {h['server_peak_rss_mb']:,} MB"
            + (
                f" (a run of its own, load average {h['load_average']})"
                if "load_average" in h
                else ""
            )
            + f" | ≥ {h['target_per_second']:,} req/s |"
        )
    w = roots.get("watcher")
    if w and "skipped" in w:
        rows.append(f"| root mode: the watcher's tree check | not measured: {w['skipped']} | |")
    elif w:
        rows.append(
            f"| root mode: the watcher verifying a {w['members']:,}-member epoch "
            f"(relayer.tree_check of {w['tree_check']}, against the previous report; "
            f"{w['report_mb']} MB report) "
            f"| {w['total_seconds']} s (parse both reports {w['parse_seconds']} s, check "
            f"{w['check_seconds']} s) | < {w['target_seconds']} s |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--tree-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tree_child:
        print(json.dumps(tree_child(args.tree_child)))
        return
    print(json.dumps(run(args.members, args.requests), indent=2))


def run(members: int, requests: int) -> dict[str, Any]:
    """Every root-mode figure; relayer_bench.py stores them under "roots"."""
    results: dict[str, Any] = {"tree": bench_tree(members)}
    progress(f"  proof reads from a {members:,}-member tree…")
    _, leaves = epoch_leaves(member_addresses(members))
    tree = Tree(2, leaves)
    results["proofs"] = bench_proofs(tree, min(PROOF_SAMPLE, members))
    del tree, leaves
    results["http"] = bench_proof_reads(members, requests)
    results["watcher"] = bench_watcher(members)
    return results


if __name__ == "__main__":
    main()
