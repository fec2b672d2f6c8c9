"""The processes the demo runs: a local anvil chain and the relayer, each started, waited for and
stopped; and brownie attached to that chain for the deploy script."""

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import httpx

from scripts.helpers import ANVIL_CHAIN_ID, ROOT


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now (held open together, so never the same one)."""
    with ExitStack() as held:
        probes = [held.enter_context(closing(socket.socket())) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def port_is_free(port: int) -> bool:
    with closing(socket.socket()) as probe:
        # As servers do: a port whose last connections linger in TIME_WAIT is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _spawn(command: list[str], log: Path, environment: dict[str, str] | None = None) -> Any:
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait(
    what: str, ready: Any, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Until `ready()`; a child that exits or never gets ready is stopped and reported."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"{what} exited with status {process.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    _stop(process)
    raise DemoError(f"{what} did not start within {timeout:g} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Anvil:
    """A throw-away anvil chain. Base fee 0, as brownie's development network expects."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        search = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), os.environ.get("PATH", "")])
        executable = shutil.which("anvil", path=search)
        if executable is None:
            raise DemoError("anvil is not on PATH: run `make demo`, which installs it")
        command = [
            executable,
            *("--port", str(port), "--chain-id", str(ANVIL_CHAIN_ID)),
            *("--block-base-fee-per-gas", "0", "--gas-limit", "30000000", "--accounts", "0"),
        ]
        self.process = _spawn(command, log)
        _wait("anvil", self._answers, self.process, log, timeout=20)

    def _answers(self) -> bool:
        try:
            self.rpc("eth_chainId")
        except (httpx.HTTPError, DemoError):
            return False
        return True

    def rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = httpx.post(self.url, json=body, timeout=10).json()
        if "error" in answer:
            raise DemoError(f"{method}: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        _stop(self.process)


def attach_brownie(anvil: Anvil) -> None:
    """Load the project and connect brownie's development network to `anvil` (attach, never
    launch: the demo owns the chain's lifetime)."""
    import brownie
    from brownie import network, project

    os.chdir(ROOT)  # brownie resolves the project's remappings from the working directory
    if not project.get_loaded_projects():
        loaded = project.load(ROOT, name="DataUnionProject")
        # What `brownie run` does before it runs a script: `from brownie import DataUnion` works.
        loaded._add_to_main_namespace()
    settings = brownie._CONFIG.networks["development"]
    settings["host"] = "http://127.0.0.1"
    settings["cmd_settings"]["port"] = anvil.port
    network.connect("development", launch_rpc=False)


#: Longest `relayer db upgrade` may take on the demo's fresh SQLite file.
UPGRADE_TIMEOUT = 60


def relayer_executable() -> Path:
    return Path(sys.executable).with_name("relayer")


def upgrade_database(environment: dict[str, str]) -> list[str]:
    """`relayer db upgrade`, as every deploy runs it before starting the relayer (which refuses a
    database that is behind, an empty one included); returns what it printed."""
    try:
        result = subprocess.run(
            [str(relayer_executable()), "db", "upgrade"],
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=UPGRADE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DemoError(f"relayer db upgrade took over {UPGRADE_TIMEOUT} s") from exc
    if result.returncode != 0:
        raise DemoError(f"relayer db upgrade failed ({result.returncode}): {result.stderr[-1500:]}")
    return result.stdout.splitlines()


class Relayer:
    """`relayer serve` as a child process, configured only through its environment."""

    def __init__(self, port: int, environment: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        command = [str(relayer_executable()), "serve", "--port", str(port)]
        self.process = _spawn(command, log, {**os.environ, **environment})
        self.http = httpx.Client(base_url=self.url, timeout=30)
        try:
            _wait("the relayer", self._answers, self.process, log, timeout=60)
        except DemoError:
            self.http.close()
            raise

    def _answers(self) -> bool:
        try:
            return self.http.get("/v1/epochs").status_code == 200
        except httpx.HTTPError:
            return False

    def call(
        self, method: str, path: str, expect: int, *, raw: bool = False, **options: Any
    ) -> Any:
        """One request, its JSON body (bytes when `raw`); anything but the `expect`ed status
        stops the demo with the error body."""
        response = self.http.request(method, path, **options)
        if response.status_code != expect:
            raise DemoError(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.content if raw else response.json()

    def stop(self) -> None:
        self.http.close()
        _stop(self.process)
