"""`relayer watch`: the watcher's command line. Everything it needs is given here or in the
environment — an RPC URL, the union's address, a report source and, to veto, the guardian's
key (from a file or the environment, never the command line); no relayer settings."""

import contextlib
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import Web3Exception

from relayer.attribution import is_checksummed
from relayer.chain import UnionChain
from relayer.errors import RelayerError
from relayer.watch_io import ReportSource, StatusBoard, redact_url
from relayer.watcher import Result, Watcher

log = logging.getLogger("relayer.watcher")

#: `--once` exit codes: all checked and in agreement; an alarm; a report not fetchable yet.
EXIT_OK, EXIT_ALARM, EXIT_WAITING = 0, 1, 3
KEY_ENV = "RELAYER_WATCH_GUARDIAN_KEY"
PASSWORD_ENV = "RELAYER_WATCH_GUARDIAN_PASSWORD"


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def load_guardian(key_file: Path | None) -> LocalAccount | None:
    """The guardian's key: a file holding the hex key or an encrypted keystore (its password in
    RELAYER_WATCH_GUARDIAN_PASSWORD), else RELAYER_WATCH_GUARDIAN_KEY; None if neither."""
    if key_file is not None:
        text = key_file.read_text().strip()
        if text.startswith("{"):
            password = os.environ.get(PASSWORD_ENV)
            if password is None:
                _fail(f"{key_file} is a keystore: set {PASSWORD_ENV}")
            try:
                key = Account.decrypt(json.loads(text), password)
            except ValueError:
                _fail(f"{key_file}: wrong password or not a keystore")
            account: LocalAccount = Account.from_key(key)
            return account
        secret = text
    elif os.environ.get(KEY_ENV):
        secret = os.environ[KEY_ENV].strip()
    else:
        return None
    try:
        loaded: LocalAccount = Account.from_key(secret)
    except (ValueError, TypeError):
        _fail("the guardian key is not a valid private key")  # never echo the value
    return loaded


@click.command()
@click.option("--rpc-url", envvar="RELAYER_WATCH_RPC_URL", required=True, help="JSON-RPC URL.")
@click.option(
    "--union",
    "union",
    envvar="RELAYER_WATCH_UNION",
    required=True,
    help="The union's address (EIP-55): a DataUnion or a DataUnionRoots, told apart on-chain.",
)
@click.option(
    "--reports",
    envvar="RELAYER_WATCH_REPORTS",
    required=True,
    help="Where reports come from: a relayer's base URL, or a URL or file template "
    "with {epoch}, e.g. ./reports/epoch-{epoch}.json.",
)
@click.option("--chain-id", type=int, default=None, help="Refuse a node serving another chain.")
@click.option(
    "--guardian-key-file",
    envvar="RELAYER_WATCH_GUARDIAN_KEY_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"The guardian's key (hex or keystore; else ${KEY_ENV}): veto on a mismatch.",
)
@click.option(
    "--finish/--no-finish",
    default=False,
    show_default=True,
    help="With the key: also finish checked epochs once due (anyone may).",
)
@click.option(
    "--once",
    is_flag=True,
    help=f"One pass; exit {EXIT_OK} if all agree, {EXIT_ALARM} on an alarm, "
    f"{EXIT_WAITING} if a report is not fetchable yet.",
)
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=12.0, show_default=True)
@click.option(
    "--margin",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Seconds before the due time at which an unfetchable report is vetoed.",
)
@click.option(
    "--missing-grace",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seconds after an epoch's last batch before a report the source says it does not have "
    "(HTTP 404, no such file) counts as a mismatch.",
)
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    default=None,
    help="First block to read events from (default: the pending epoch's last batch).",
)
@click.option(
    "--status-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the status as JSON here after every poll.",
)
@click.option(
    "--status-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Serve GET /status on 127.0.0.1:PORT (503 while in alarm).",
)
@click.option("--tx-timeout", type=click.FloatRange(min=1), default=120.0, show_default=True)
@click.option("--rpc-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True)
def watch(
    rpc_url: str,
    union: str,
    reports: str,
    chain_id: int | None,
    guardian_key_file: Path | None,
    finish: bool,
    once: bool,
    poll_interval: float,
    margin: int,
    missing_grace: int,
    from_block: int | None,
    status_file: Path | None,
    status_port: int | None,
    tx_timeout: float,
    rpc_timeout: float,
) -> None:
    """Check every epoch the union posts against its report; alarm, and veto, on a mismatch."""
    if not is_checksummed(union):
        _fail("--union must be a checksummed 0x address (EIP-55)")
    guardian = load_guardian(guardian_key_file)
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": rpc_timeout}))
    try:
        actual = int(w3.eth.chain_id)
        if chain_id is not None and actual != chain_id:
            _fail(f"the node at {redact_url(rpc_url)} serves chain {actual}, not {chain_id}")
        source = ReportSource(reports, timeout=rpc_timeout)
        board = StatusBoard(status_file, status_port)
        watcher = Watcher(
            UnionChain(w3, union),
            source,
            guardian=guardian,
            finish=finish,
            margin=margin,
            missing_grace=missing_grace,
            from_block=from_block,
            tx_timeout=tx_timeout,
            status=board,
        )
    except (RelayerError, Web3Exception, OSError) as exc:
        # Only our own messages are shown: a node or HTTP error's text can carry the URL.
        why = str(exc) if isinstance(exc, RelayerError) else type(exc).__name__
        _fail(f"cannot watch {union} at {redact_url(rpc_url)}: {why}")
    log.warning(
        "watching %s on chain %d at %s, reports from %s, %s",
        union,
        actual,
        redact_url(rpc_url),
        source,
        f"guardian {guardian.address}" if guardian else "no guardian key (alarms only)",
    )
    if board.port is not None:
        log.warning("status at http://127.0.0.1:%d/status", board.port)
    try:
        if once:
            try:
                verdicts = watcher.poll()
            except (RelayerError, Web3Exception, OSError) as exc:
                _fail(f"the poll failed: {type(exc).__name__}")
            click.echo(json.dumps(board.snapshot(), indent=2, sort_keys=True))
            if any(v.alarm for v in verdicts):
                sys.exit(EXIT_ALARM)
            if any(v.result == Result.WAITING and v.state == "pending" for v in verdicts):
                sys.exit(EXIT_WAITING)
            return
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watcher is stopped
            watcher.run(threading.Event(), poll_interval)
    finally:
        board.close()
