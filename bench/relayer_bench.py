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
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import ROOT, Chain, anvil, free_port, local_key
from eth_account.signers.local import LocalAccount
from tqdm import tqdm
from web3 import Web3
from web3.contract import Contract

from relayer import attribution, epochs, migrate
from relayer.attribution import ContributionInput
from relayer.context import Context
from relayer.db import Contribution
from relayer.settings import Settings

RESULTS = ROOT / "bench" / "results"
FEE_BPS, FEE_DELAY = 500, 2 * 24 * 3600
ATTRIBUTION_DELAY = 3600  # the contract's minimum


@dataclass
class LocalUnion:
    """A union deployed on the benchmark's anvil, with the relayer's key as attester."""

    w3: Web3
    rpc_url: str
    relayer: LocalAccount
    union: Contract


@contextmanager
def local_union() -> Iterator[LocalUnion]:
    with anvil() as w3:
        chain = Chain(w3)
        admin, relayer = chain.accounts[0], local_key("relayer")
        w3.eth.send_transaction({"from": admin, "to": relayer.address, "value": 10**20})
        token, _ = chain.deploy(*chain.artifact("MockStablecoin"))
        union, _ = chain.deploy(
            *chain.artifact("DataUnion"),
            token.address,
            admin,
            relayer.address,
            admin,
            admin,  # guardian
            admin,
            FEE_BPS,
            FEE_DELAY,
            ATTRIBUTION_DELAY,
        )
        yield LocalUnion(w3, str(w3.provider.endpoint_uri), relayer, union)  # type: ignore[attr-defined]


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


def relayer_settings(chain: LocalUnion, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rpc_url": chain.rpc_url,
        "chain_id": chain.w3.eth.chain_id,
        "contract_address": chain.union.address,
        "database_url": database_url,
        "private_key": "0x" + bytes(chain.relayer.key).hex(),
        "operator_token": secrets.token_hex(24),
        "confirmations": 0,
        "poll_interval": 0.01,
        "batch_size": 500,
    }
    values.update(overrides)
    return Settings(**values)


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


#: The load generator's only target: this machine's loopback interface.
LOOPBACK = "127.0.0.1"
#: Longest one load run may take; it stops by itself then, whatever it has done.
LOAD_DEADLINE_S = 90.0


@dataclass
class Load:
    seconds: float
    latencies: list[float]

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _load(
    ports: int | list[int],
    paths: list[str],
    requests: int,
    connections: int,
    deadline_s: float = LOAD_DEADLINE_S,
) -> Load:
    """At most `requests` keep-alive HTTP/1.1 GETs over `connections` sockets to loopback, the
    sockets spread round-robin over `ports` (as a load balancer would spread clients), for at
    most `deadline_s` seconds. Every answer must be a 200."""
    targets = [ports] if isinstance(ports, int) else ports
    per_connection = max(1, requests // connections)
    latencies: list[float] = []
    stop_at = time.perf_counter() + deadline_s

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection(LOOPBACK, targets[index % len(targets)])
        try:
            for i in range(per_connection):
                if time.perf_counter() > stop_at:
                    break
                path = paths[(index * 7 + i) % len(paths)]
                sent = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{path}: {head.splitlines()[0].decode()}")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(connections)))
    return Load(time.perf_counter() - started, latencies)


def bench_reads(chain: LocalUnion, workdir: Path, members: int, requests: int) -> dict[str, Any]:
    settings = relayer_settings(chain, f"sqlite:///{workdir / 'post.db'}")
    migrate.upgrade(settings.database_url)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "relayer.cli", "serve", "--port", str(port)],
        env=_serve_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        every = [
            f"/v1/members/{chain.w3.to_checksum_address(f'0x{i + 1:040x}')}" for i in range(members)
        ]
        _wait_serving(port)
        cold_count = min(members - 1, requests // 4)
        cold = asyncio.run(_load(port, every[1 : 1 + cold_count], cold_count, 32))
        hot = every[:200]
        asyncio.run(_load(port, hot, 400, 8))  # warm the cache
        load = asyncio.run(_load(port, hot, requests, 32))
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


def _wait_serving(port: int, path: str = "/v1/health", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(_load(port, [path], 1, 1, deadline_s=5))
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _serve_env(settings: Settings) -> dict[str, str]:
    values: dict[str, Any] = {
        "rpc_url": settings.rpc_url,
        "chain_id": settings.chain_id,
        "contract_address": settings.contract_address,
        "database_url": settings.database_url,
        "private_key": settings.private_key.get_secret_value() if settings.private_key else "",
        "operator_token": settings.operator_token.get_secret_value(),
        "confirmations": 0,
    }
    return {**os.environ, **{f"RELAYER_{k.upper()}": str(v) for k, v in values.items()}}


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
                    env=_serve_env(settings),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for port in ports
            ]
            try:
                for port in ports:
                    _wait_serving(port)
                _wait_indexed(ports[0], chain.w3.eth.block_number)
                for port in ports:
                    asyncio.run(_load(port, hot, 400, 8))  # warm each replica's cache
                load = asyncio.run(_load(ports, hot, requests, 32))
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


def write(results: dict[str, Any]) -> None:
    results["load_average"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
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
    (RESULTS / "relayer.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contributions", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
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
    write(results)


if __name__ == "__main__":
    main()
