"""What the relayer benchmarks share: a union on the benchmark's own anvil with the relayer's key
as attester, the relayer's settings for it, `relayer serve` processes, and a loopback HTTP load
generator."""

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chain import Chain, anvil, local_key
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from relayer.settings import Settings

FEE_BPS, FEE_DELAY = 500, 2 * 24 * 3600
ATTRIBUTION_DELAY = 3600  # the contract's minimum


@dataclass
class LocalUnion:
    """A union deployed on the benchmark's anvil, with the relayer's key as attester."""

    w3: Web3
    rpc_url: str
    relayer: LocalAccount
    union: Contract
    chain: Chain
    token: Contract


@contextmanager
def local_union(contract: str = "DataUnion") -> Iterator[LocalUnion]:
    """`contract` is DataUnion or DataUnionRoots (both take the same parameters)."""
    with anvil() as w3:
        chain = Chain(w3)
        admin, relayer = chain.accounts[0], local_key("relayer")
        w3.eth.send_transaction({"from": admin, "to": relayer.address, "value": 10**20})
        token, _ = chain.deploy(*chain.artifact("MockStablecoin"))
        union, _ = chain.deploy(
            *chain.artifact(contract),
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
        endpoint = str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        yield LocalUnion(w3, endpoint, relayer, union, chain, token)


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


async def http_load(
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


def wait_serving(port: int, path: str = "/v1/health", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(http_load(port, [path], 1, 1, deadline_s=5))
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve_env(settings: Settings) -> dict[str, str]:
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
