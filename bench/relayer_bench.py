"""Relayer benchmarks: attribution of 1,000,000 contributions, posting an epoch of 10,000
members on anvil, and the member read API's throughput. Prints the figures and writes them to
bench/results/relayer.md and relayer.json.

    make bench            # or: .venv/bin/python bench/relayer_bench.py [--members N] [--requests N]
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import roots_bench
from chain import ROOT, free_port
from serving import (
    LOOPBACK,
    LocalUnion,
    http_load,
    local_union,
    relayer_settings,
    serve_env,
    wait_serving,
)
from tqdm import tqdm

from relayer import attribution, epochs, migrate
from relayer.attribution import ContributionInput
from relayer.context import Context
from relayer.db import Contribution

RESULTS = ROOT / "bench" / "results"


DATA_TYPES = sorted(attribution.DEFAULT_RATES)


def synthetic(count: int, members: int) -> list[ContributionInput]:
    return [
        ContributionInput(
            f"0x{(i % members) + 1:040x}",
            DATA_TYPES[i % len(DATA_TYPES)],
            1 + i % 997,
            500_000 + (i * 7919) % 500_001,
            (i * 104_729) % 1_000_001,
        )
        for i in range(count)
    ]


def bench_attribution(count: int) -> dict[str, Any]:
    contributions = synthetic(count, 10_000)
    started = time.perf_counter()
    report = attribution.build_report(
        chain_id=31337,
        union="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        epoch=1,
        contributions=contributions,
        params=attribution.DEFAULT_PARAMETERS,
    )
    raw = attribution.canonical(report)
    digest = attribution.report_hash(raw)
    built = time.perf_counter() - started
    started = time.perf_counter()
    verified = attribution.verify_report(raw)
    checked = time.perf_counter() - started
    assert verified.report_hash == digest
    return {
        "contributions": count,
        "members": len(report["members"]),
        "report_bytes": len(raw),
        "build_seconds": round(built, 3),
        "verify_seconds": round(checked, 3),
        "target_seconds": 5,
    }


def bench_posting(chain: LocalUnion, members: int, workdir: Path) -> dict[str, Any]:
    settings = relayer_settings(chain, f"sqlite:///{workdir / 'post.db'}")
    migrate.upgrade(settings.database_url)  # as a deploy does before starting the relayer
    context = Context.from_settings(settings)
    with context.db.session() as session:
        session.add_all(
            Contribution(
                member=context.chain.w3.to_checksum_address(c.member),
                data_type=c.data_type,
                records=c.records,
                quality_ppm=c.quality_ppm,
                uniqueness_ppm=c.uniqueness_ppm,
                content_hash=f"0x{i:064x}",
            )
            for i, c in enumerate(synthetic(members, members))
        )
    started = time.perf_counter()
    with context.db.session() as session:
        closed = epochs.close(session, context.chain, context.outbox, context.settings)
    closing = time.perf_counter() - started
    with context.db.session() as session:
        total = len(epochs.describe(session, closed.number).transactions)
    started = time.perf_counter()
    with tqdm(total=total, unit="tx", desc="posting", file=sys.stderr) as bar:
        outcome = epochs.post(
            context.db, context.outbox, closed.number, progress=lambda _tx: bar.update(1)
        )
    posting = time.perf_counter() - started
    context.close()
    assert outcome.status == "pending", outcome.error
    batch_gas = [tx.gas_used or 0 for tx in outcome.transactions if tx.purpose == "attribution"]
    finish_gas = sum(tx.gas_used or 0 for tx in outcome.transactions if tx.purpose == "finish")
    return {
        "members": members,
        "batches": len(batch_gas),
        "batch_size": 500,
        "gas_per_member": round(sum(batch_gas) / members),
        "gas_total": sum(batch_gas) + finish_gas,
        "close_seconds": round(closing, 2),
        "post_seconds": round(posting, 2),
        "members_per_second": round(members / posting),
    }


def bench_reads(chain: LocalUnion, workdir: Path, members: int, requests: int) -> dict[str, Any]:
    settings = relayer_settings(chain, f"sqlite:///{workdir / 'post.db'}")
    migrate.upgrade(settings.database_url)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "relayer.cli", "serve", "--port", str(port)],
        env=serve_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        every = [
            f"/v1/members/{chain.w3.to_checksum_address(f'0x{i + 1:040x}')}" for i in range(members)
        ]
        wait_serving(port)
        cold_count = min(members - 1, requests // 4)
        cold = asyncio.run(http_load(port, every[1 : 1 + cold_count], cold_count, 32))
        hot = every[:200]
        asyncio.run(http_load(port, hot, 400, 8))  # warm the cache
        load = asyncio.run(http_load(port, hot, requests, 32))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {
        "route": "GET /v1/members/{address}",
        "requests": load.requests,
        "connections": 32,
        "seconds": round(load.seconds, 2),
        "requests_per_second": round(load.requests / load.seconds),
        "cold_requests": cold.requests,
        "cold_requests_per_second": round(cold.requests / cold.seconds),
        "target_per_second": 1000,
    }


def bench_replica_reads(chain: LocalUnion, members: int, requests: int) -> dict[str, Any]:
    """The hot member read through 1 and then 3 `relayer serve` replicas on one PostgreSQL
    database, the clients' connections spread over the replicas as a load balancer would."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures.postgres import ServerUnavailable, find_bindir, start_server, stop_server

    try:
        bindir = find_bindir()
    except ServerUnavailable as exc:
        print(f"!!! replicas benchmark skipped: {exc}", file=sys.stderr)
        return {"skipped": str(exc)}
    pgdir = Path(tempfile.mkdtemp(prefix="relayer-bench-postgres-"))
    try:
        server = start_server(bindir, pgdir)
        url = server.create_database("bench")
        migrate.upgrade(url)  # the deploy's migration step, before any replica starts
        settings = relayer_settings(chain, url)
        hot = [
            f"/v1/members/{chain.w3.to_checksum_address(f'0x{i + 1:040x}')}"
            for i in range(min(200, members))
        ]
        runs = {}
        for count in (1, 3):
            ports = [free_port() for _ in range(count)]
            servers = [
                subprocess.Popen(
                    [sys.executable, "-m", "relayer.cli", "serve", "--port", str(port)],
                    env=serve_env(settings),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for port in ports
            ]
            try:
                for port in ports:
                    wait_serving(port)
                _wait_indexed(ports[0], chain.w3.eth.block_number)
                for port in ports:
                    asyncio.run(http_load(port, hot, 400, 8))  # warm each replica's cache
                load = asyncio.run(http_load(ports, hot, requests, 32))
            finally:
                for process in servers:
                    process.terminate()
                for process in servers:
                    process.wait(timeout=10)
            runs[str(count)] = {
                "replicas": count,
                "requests": load.requests,
                "seconds": round(load.seconds, 2),
                "requests_per_second": round(load.requests / load.seconds),
                "p50_ms": round(load.percentile(0.50) * 1000, 1),
                "p99_ms": round(load.percentile(0.99) * 1000, 1),
            }
    finally:
        stop_server(bindir, pgdir)
        shutil.rmtree(pgdir, ignore_errors=True)
    return {"route": "GET /v1/members/{address}", "connections": 32, "runs": runs}


def _wait_indexed(port: int, head: int, timeout: float = 120.0) -> None:
    """Until the replicas' indexer has caught up with `head`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/v1/health", timeout=10) as answer:
            if (json.load(answer).get("indexed_block") or -1) >= head:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the replicas did not index up to block {head} in {timeout} s")


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def write(results: dict[str, Any]) -> None:
    # A partial run (--roots-only, --watcher-only) keeps the load average of the run whose
    # figures it keeps; the root-mode figures carry their own.
    results.setdefault("load_average", load_average())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "relayer.json").write_text(json.dumps(results, indent=2) + "\n")
    a, p, r = results["attribution"], results["posting"], results["reads"]
    lines = [
        "# Relayer benchmarks",
        "",
        f"Machine: {results['machine']}. Regenerate with `make bench`.",
        "",
        "| benchmark | figure | target |",
        "| --- | --- | --- |",
        f"| attribution of {a['contributions']:,} contributions ({a['members']:,} members) "
        f"| {a['build_seconds']} s to build + hash, {a['verify_seconds']} s to verify "
        f"| < {a['target_seconds']} s |",
        f"| posting an epoch of {p['members']:,} members ({p['batches']} batches of "
        f"{p['batch_size']}) | {p['gas_per_member']:,} gas per member, {p['post_seconds']} s "
        f"({p['members_per_second']:,} members/s); close {p['close_seconds']} s | |",
        f"| {r['route']}, 200 members read again and again ({r['requests']:,} requests, "
        f"{r['connections']} connections) | {r['requests_per_second']:,} req/s "
        f"| ≥ {r['target_per_second']:,} req/s |",
        f"| {r['route']}, each request a member not read before ({r['cold_requests']:,} "
        f"requests) | {r['cold_requests_per_second']:,} req/s | |",
    ]
    replicas = results.get("replicas", {})
    for run in replicas.get("runs", {}).values():
        lines.append(
            f"| {replicas['route']}, hot, through {run['replicas']} replica"
            f"{'s' if run['replicas'] > 1 else ''} on one PostgreSQL ({run['requests']:,} "
            f"requests, {replicas['connections']} connections) | {run['requests_per_second']:,} "
            f"req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms | |"
        )
    if "skipped" in replicas:
        lines.append(f"| member reads through replicas | skipped: {replicas['skipped']} | |")
    roots = results.get("roots", {})
    lines += roots_bench.markdown_rows(roots)
    lines += [
        "",
        f"Load average when the run ended: {results['load_average']} (the benchmark shares the "
        "machine with whatever else runs; a figure measured under load is lower than on a quiet "
        "one). The replica runs spread the clients' connections round-robin over the replicas, "
        "as a load balancer does, all on loopback; each replica is a `relayer serve` process, so "
        "on this machine they share its cores with the load generator, the database and the "
        "chain.",
        "",
    ]
    if roots.get("load_average"):
        lines[-1:] = [
            f"The root-mode rows come from a later run (`--roots-only` reruns them alone); load "
            f"average when it ended: {roots['load_average']}"
            + (
                f"; the watcher's check in another, load average {w}."
                if (w := roots.get("watcher", {}).get("load_average"))
                else "."
            ),
            "",
        ]
    (RESULTS / "relayer.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contributions", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--roots-members", type=int, default=roots_bench.MEMBERS)
    parser.add_argument(
        "--roots-only",
        action="store_true",
        help="only the root-mode figures; the others are kept from the last results file",
    )
    parser.add_argument(
        "--watcher-only",
        action="store_true",
        help="only the watcher's tree check; the other figures are kept from the last results",
    )
    args = parser.parse_args()
    if args.watcher_only:
        results = json.loads((RESULTS / "relayer.json").read_text())
        watcher = roots_bench.bench_watcher(args.roots_members)
        results.setdefault("roots", {})["watcher"] = {**watcher, "load_average": load_average()}
        write(results)
        return
    if args.roots_only:
        results = json.loads((RESULTS / "relayer.json").read_text())
        print(f"root mode, {args.roots_members:,} members…", file=sys.stderr)
        roots = roots_bench.run(args.roots_members, args.requests)
        results["roots"] = {**roots, "load_average": load_average()}
        write(results)
        return
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    }
    print(f"attribution of {args.contributions:,} contributions…", file=sys.stderr)
    results["attribution"] = bench_attribution(args.contributions)
    workdir = Path(os.environ.get("BENCH_WORKDIR", "/tmp")) / f"relayer-bench-{os.getpid()}"
    workdir.mkdir(parents=True)
    with local_union() as chain:
        print(f"posting an epoch of {args.members:,} members…", file=sys.stderr)
        results["posting"] = bench_posting(chain, args.members, workdir)
        print(f"{args.requests:,} member reads…", file=sys.stderr)
        results["reads"] = bench_reads(chain, workdir, args.members, args.requests)
        print(f"{args.requests:,} member reads through 1 and 3 replicas…", file=sys.stderr)
        results["replicas"] = bench_replica_reads(chain, args.members, args.requests)
    print(f"root mode, {args.roots_members:,} members…", file=sys.stderr)
    results["roots"] = roots_bench.run(args.roots_members, args.requests)
    write(results)


if __name__ == "__main__":
    main()
