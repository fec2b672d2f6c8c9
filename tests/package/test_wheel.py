"""The relayer as an operator installs it: the wheel built from this tree, installed with the
relayer's own lock (requirements.relayer.lock, no brownie) into a fresh venv outside the checkout,
serves a real union on the test chain from a working directory outside the checkout.

Slow (a wheel build and a venv install, a minute or two with pip's cache warm), so both are made
once per module; each test starts its own `relayer serve` and always stops it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from brownie import chain, web3
from eth_account import Account

from fixtures.api import contribution
from fixtures.union import pay
from relayer.attribution import verify_report
from relayer.contributions import consent_document
from relayer.schemas import ContributionIn
from tools.packaging import abis
from tools.packaging.relayer_lock import LOCK

ROOT = abis.ROOT
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 900
START_TIMEOUT = 60
POST_TIMEOUT = 60
STOP_TIMEOUT = 15
#: The packages that exist for the contracts and the tests only; none belongs with the relayer.
TEST_ONLY = {"eth-brownie", "pytest", "hypothesis", "py-solc-x", "vyper", "mypy", "ruff"}


def normalized(name):
    """A distribution's name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(args, *, timeout, **options):
    """Run a command to completion within `timeout` seconds; its output is shown on failure."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **options)
    assert done.returncode == 0, (
        f"{args[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A folder outside the repository: the venv, the database and the working directory."""
    folder = tmp_path_factory.mktemp("operator")
    assert not folder.resolve().is_relative_to(ROOT)
    return folder


@pytest.fixture(scope="module")
def wheel(outside):
    """The wheel, built as `make wheel` builds it (its build backend regenerates the ABIs)."""
    dist = outside / "dist"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        timeout=BUILD_TIMEOUT,
    )
    (built,) = dist.glob("data_union-*-py3-none-any.whl")
    return built


def clean_environment(home, **variables):
    """An environment that names nothing of the checkout: no PYTHONPATH, no test venv on PATH."""
    return {
        "PATH": os.pathsep.join([str(home.parent / "venv" / "bin"), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **variables,
    }


@pytest.fixture(scope="module")
def venv(outside, wheel):
    """A fresh venv holding the lock's pins and the wheel, nothing resolved beyond them."""
    home = outside / "home"
    home.mkdir()
    venv = outside / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=120, cwd=outside)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    # --no-deps: the lock alone must hold every transitive pin, which `pip check` then proves.
    run(
        [*pip, "install", "--quiet", "--no-deps", "-r", str(LOCK), str(wheel)],
        timeout=INSTALL_TIMEOUT,
        cwd=outside,
        env=clean_environment(home) | pip_environment(),
    )
    return venv


#: How this machine reaches the package index (a mirror, a proxy, a CA bundle), kept for pip.
NETWORK_VARIABLES = {"http_proxy", "https_proxy", "no_proxy", "ssl_cert_file", "requests_ca_bundle"}


def pip_environment():
    """The machine's pip settings and cache (the install is quick with it warm; the cache holds
    no project state), so the install reaches the index the way this machine does."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("PIP_") or name.lower() in NETWORK_VARIABLES
    }
    kept.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return kept


def in_venv(venv, outside, *args, timeout=60):
    return run(
        [str(venv / "bin" / args[0]), *args[1:]],
        timeout=timeout,
        cwd=outside,
        env=clean_environment(outside / "home"),
    )


def test_wheel_carries_the_abis_the_member_page_and_the_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {"relayer/web/index.html", "relayer/web/dist/app.js", "relayer/web/dist/app.css"}
    assert page <= names
    with zipfile.ZipFile(wheel) as archive:
        for contract in abis.CONTRACTS:
            packaged = json.loads(archive.read(f"relayer/abi/{contract}.json"))
            built = json.loads((abis.BUILD_DIR / f"{contract}.json").read_text())["abi"]
            assert packaged == built, contract
    source = ROOT / "src"
    migrations = {
        str(path.relative_to(source))
        for path in (source / "relayer" / "migrations").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert migrations, "no migrations in the source tree"
    assert migrations <= names
    assert not {n for n in names if n.split("/")[0] in {"tests", "scripts", "tools", "fixtures"}}


def test_venv_holds_the_lock_and_the_wheel_only_and_pip_check_is_clean(venv, outside, wheel):
    installed = {
        normalized(p["name"]): p["version"]
        for p in json.loads(in_venv(venv, outside, "python", "-m", "pip", "list", "--format=json"))
    }
    assert not TEST_ONLY & set(installed)
    in_venv(
        venv,
        outside,
        "python",
        "-c",
        "import importlib.util as u; assert not u.find_spec('brownie')",
    )
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert installed.pop(normalized(name)) == version, name
    # Nothing beyond the lock and the wheel, but what `python -m venv` itself puts there.
    assert installed.pop("data-union") == wheel.name.split("-")[1]
    assert set(installed) <= {"pip", "setuptools"}
    in_venv(venv, outside, "python", "-m", "pip", "check")


def test_installed_relayer_is_the_venvs_not_the_checkouts(venv, outside):
    found = json.loads(
        in_venv(
            venv,
            outside,
            "python",
            "-c",
            "import json, relayer, relayer.artifacts as a; "
            "print(json.dumps([relayer.__file__, len(a.load_abi('DataUnion'))]))",
        )
    )
    module, abi_entries = found
    assert Path(module).resolve().is_relative_to(venv.resolve())
    assert not Path(module).resolve().is_relative_to(ROOT)
    assert abi_entries > 0


def free_port():
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """A `relayer serve` process of the venv and an HTTP client for it."""

    def __init__(self, process, url, log):
        self.process = process
        self.http = httpx.Client(base_url=url, timeout=10)
        self.log = log

    def output(self):
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def served(venv, outside, union, relayer_account, operator_token, tmp_path):
    """`relayer serve` from the venv, in a working directory outside the checkout, on the test
    chain, with a fresh SQLite database; stopped (SIGTERM, then SIGKILL) whatever happens."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    assert not workdir.resolve().is_relative_to(ROOT)
    port = free_port()
    env = clean_environment(
        outside / "home",
        RELAYER_RPC_URL=web3.provider.endpoint_uri,
        RELAYER_CHAIN_ID=str(chain.id),
        RELAYER_CONTRACT_ADDRESS=union.address,
        RELAYER_DATABASE_URL=f"sqlite:///{workdir / 'relayer.db'}",
        RELAYER_PRIVATE_KEY=relayer_account.private_key,
        RELAYER_OPERATOR_TOKEN=operator_token,
        RELAYER_CONFIRMATIONS="0",
        RELAYER_POLL_INTERVAL="0.05",
        RELAYER_TX_TIMEOUT="10",
        RELAYER_READ_CACHE_SECONDS="0",
    )
    # The deploy step before every start: serve refuses a database that is behind (or empty).
    upgraded = run(
        [str(venv / "bin" / "relayer"), "db", "upgrade"], timeout=60, cwd=workdir, env=env
    )
    assert "(head)" in upgraded, upgraded
    log = workdir / "relayer.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(venv / "bin" / "relayer"), "-v", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"relayer serve exited:\n{server.output()}"
            assert time.monotonic() < deadline, f"relayer serve not up:\n{server.output()}"
            try:
                if server.http.get("/v1/union").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        server.http.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def test_installed_relayer_serves_the_union_and_its_member_page(served, union, stablecoin):
    facts = served.http.get("/v1/union").json()
    assert facts["chain_id"] == chain.id
    assert facts["union"] == union.address
    assert facts["token"]["address"] == stablecoin.address
    page = served.http.get("/")
    assert page.status_code == 200, page.text
    assert union.address in page.text
    for asset in ("app.js", "app.css"):
        assert served.http.get(f"/assets/{asset}").status_code == 200, asset


def signed_contribution(union, member, body):
    document = consent_document(chain.id, union.address, ContributionIn(**body))
    signature = Account.sign_typed_data(member.private_key, full_message=document).signature
    return {**body, "signature": "0x" + signature.hex()}


def test_installed_relayer_records_contributions_and_posts_an_epoch(
    served, union, stablecoin, operator_token, alice, bob, buyer
):
    operator = {"Authorization": f"Bearer {operator_token}"}
    by_operator = served.http.post(
        "/v1/contributions",
        json={"contributions": [contribution(alice, "alice", salt="wheel ")]},
        headers=operator,
    )
    assert by_operator.status_code == 201, by_operator.text
    body = contribution(bob, "bob", salt="wheel ", data_type="browsing", records=500)
    by_member = served.http.post(
        "/v1/contributions", json={"contributions": [signed_contribution(union, bob, body)]}
    )
    assert by_member.status_code == 201, by_member.text

    closed = served.http.post("/v1/epochs/close", headers=operator)
    assert closed.status_code == 202, closed.text
    number = closed.json()["number"]
    deadline = time.monotonic() + POST_TIMEOUT
    while (epoch := served.http.get(f"/v1/epochs/{number}").json())["status"] != "pending":
        assert epoch["status"] != "failed", epoch
        assert time.monotonic() < deadline, f"epoch not posted: {epoch}\n{served.output()}"
        time.sleep(0.1)
    # Pending: the shares are set, the revenue held until the attribution delay has passed and
    # the relayer (the sender role's holder) finishes the epoch on its loop.
    report = verify_report(served.http.get(f"/v1/epochs/{number}/report").content)
    assert {m: union.sharesOf(m) for m in report.shares} == report.shares
    chain.sleep(union.ATTRIBUTION_DELAY() + 1)
    chain.mine()
    deadline = time.monotonic() + POST_TIMEOUT
    while (epoch := served.http.get(f"/v1/epochs/{number}").json())["status"] != "finished":
        assert epoch["status"] == "pending", epoch
        assert time.monotonic() < deadline, f"epoch not finished: {epoch}\n{served.output()}"
        time.sleep(0.1)

    report = verify_report(served.http.get(f"/v1/epochs/{number}/report").content)
    assert (
        report.report_hash == epoch["report_hash"] == "0x" + bytes(union.currentReportHash()).hex()
    )
    assert set(report.shares) == {alice.address, bob.address}
    assert {m: union.sharesOf(m) for m in report.shares} == report.shares

    pay(stablecoin, union, buyer, 1_000_000)
    member = served.http.get(f"/v1/members/{alice.address}").json()
    assert int(member["shares"]) == report.shares[alice.address]
    assert int(member["claimable"]["units"]) == union.claimable(alice) > 0
