"""The `relayer` command: serve the API, upgrade the database, close and post epochs, index,
estimate, verify reports; and, needing no relayer settings, watch a union (`watch`), claim from
a root-mode union with its published report (`claim`) and serve the member page alone (`page`).

Settings come from the environment (`RELAYER_*`, see relayer.settings); a bad setting is named
with the rule it breaks, never with its value.
"""

import json
import logging
import sys
import threading
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from relayer import attribution, epochs, estimator, lifecycle, migrate, redact
from relayer.claim_cli import claim
from relayer.context import Context
from relayer.errors import RelayerError
from relayer.replica import run_indexer
from relayer.roles import Role
from relayer.schemas import EpochOut
from relayer.settings import DatabaseSettings, Settings
from relayer.states import EpochStatus, TxStatus
from relayer.static_page import page
from relayer.watch_cli import watch

#: Seconds without progress after which `epoch close`/`post`, following another replica's
#: posting, give up (at least; four transaction timeouts if that is longer).
FOLLOW_STALL_S = 120.0
#: A transaction in one of these has reached its fate.
DONE = (TxStatus.CONFIRMED, TxStatus.FAILED)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _invalid_settings(exc: ValidationError) -> NoReturn:
    problems = "; ".join(
        f"RELAYER_{'_'.join(map(str, e['loc'])).upper() or '?'}: {e['msg']}" for e in exc.errors()
    )
    _fail(f"invalid settings: {problems}")


def _context(*, acting: bool = False) -> Context:
    """The context from the environment. `acting`: this command writes to the database or
    sends (serve, close, post, index), so on SQLite it must be the only process using it."""
    try:
        settings = Settings()  # type: ignore[call-arg]  # filled from the environment
    except ValidationError as exc:
        _invalid_settings(exc)
    redact.protect(settings)
    try:
        context = Context.from_settings(settings)
    except RelayerError as exc:
        _fail(str(exc))
    if acting:
        try:
            context.roles.open()
        except RelayerError as exc:
            context.close()
            _fail(str(exc))
    return context


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
def main(verbose: bool) -> None:
    """The data union's relayer."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(host: str, port: int, access_log: bool) -> None:
    """Serve the HTTP API and the member page, with the indexer and claim confirmations running
    alongside."""
    from relayer.service import Service

    # Taking or losing a role is what an operator of several replicas looks for in the log.
    logging.getLogger("relayer.roles").setLevel(logging.INFO)
    context = _context(acting=True)
    try:
        Service(context, host=host, port=port, access_log=access_log).run()
    finally:
        context.close()


@main.group()
def epoch() -> None:
    """Close, post and inspect attribution epochs."""


def _post_with_progress(context: Context, number: int) -> None:
    """Post the epoch from this process if the sender role is free, else follow the replica
    that holds it until the epoch is posted or fails."""
    with context.db.session() as session:
        requested = epochs.request_post(session, context.outbox, number)
    total = len(requested.transactions)
    roles = context.roles
    context.alarms.check_outbox(context.outbox)
    with tqdm(total=total, unit="tx", desc=f"epoch {number}", file=sys.stderr) as bar:
        if requested.status != EpochStatus.POSTING or roles.try_acquire(Role.SENDER):
            outcome = epochs.post(
                context.db,
                context.outbox,
                number,
                progress=lambda _tx: bar.update(1),
                fence=partial(roles.holds, Role.SENDER),
            )
        else:
            click.echo(
                f"another replica holds the sender role ({roles.holders()[Role.SENDER]});"
                " following its progress",
                err=True,
            )
            outcome = _follow(context, number, bar)
    click.echo(outcome.model_dump_json(indent=2))
    if outcome.status not in (EpochStatus.PENDING, EpochStatus.FINISHED):
        _fail(f"epoch {number} is {outcome.status}: {outcome.error}")
    if outcome.status == EpochStatus.PENDING and outcome.due_at is not None:
        click.echo(
            f"epoch {number} is pending: it takes effect once finished, from {outcome.due_at} "
            f"(`relayer epoch finish {number}`, or `relayer serve` does it)",
            err=True,
        )


def _follow(context: Context, number: int, bar: tqdm) -> EpochOut:
    """Wait for another process to post epoch `number`, showing its progress; gives up when
    nothing moves for `FOLLOW_STALL_S` (or four transaction timeouts, if longer)."""
    stall = max(FOLLOW_STALL_S, 4 * context.settings.tx_timeout)
    done, moved_at = 0, time.monotonic()
    while True:
        with context.db.session() as session:
            epoch = epochs.describe(session, number)
        settled = sum(tx.status in DONE for tx in epoch.transactions)
        if settled != done:
            bar.update(settled - done)
            done, moved_at = settled, time.monotonic()
        if epoch.status not in (EpochStatus.CLOSED, EpochStatus.POSTING):
            return epoch
        if time.monotonic() - moved_at > stall:
            _fail(
                f"epoch {number} made no progress in {stall:.0f} s: is the replica holding the "
                "sender role running? (GET /v1/health shows who holds it)"
            )
        time.sleep(context.settings.poll_interval)


@epoch.command("close")
@click.option("--no-post", is_flag=True, help="Only freeze the report and plan the batches.")
def epoch_close(no_post: bool) -> None:
    """Freeze the next epoch's report and post its shares (with a progress bar)."""
    context = _context(acting=True)
    try:
        context.indexer.run_once()
        with context.db.session() as session:
            closed = epochs.close(
                session, context.chain, context.outbox, context.settings, post=not no_post
            )
        click.echo(f"epoch {closed.number} closed: report {closed.report_hash}", err=True)
        if not no_post:
            _post_with_progress(context, closed.number)
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


EPOCH_NUMBER = click.IntRange(min=1, max=epochs.MAX_EPOCH)


@epoch.command("post")
@click.argument("number", type=EPOCH_NUMBER)
def epoch_post(number: int) -> None:
    """Resume or retry posting epoch NUMBER."""
    context = _context(acting=True)
    try:
        _post_with_progress(context, number)
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@epoch.command("finish")
@click.argument("number", type=EPOCH_NUMBER)
def epoch_finish(number: int) -> None:
    """Finish pending epoch NUMBER once it is due (anyone may; a finish someone else already
    made counts as done)."""
    context = _context()
    try:
        lifecycle.finish(context.db, context.chain, context.outbox, number)
        with context.db.session() as session:
            outcome = epochs.describe(session, number)
        click.echo(outcome.model_dump_json(indent=2))
        if outcome.status != EpochStatus.FINISHED:
            _fail(f"epoch {number} is {outcome.status}: {outcome.error}")
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@epoch.command("abandon")
@click.argument("number", type=EPOCH_NUMBER)
def epoch_abandon(number: int) -> None:
    """Give up epoch NUMBER when it cannot be posted: its unsent transactions are dropped and the
    next `epoch close` can go ahead (fix what made it fail first, e.g. delete a member's data)."""
    context = _context()
    try:
        click.echo(epochs.abandon(context.db, number).model_dump_json(indent=2))
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@epoch.command("status")
@click.argument("number", type=EPOCH_NUMBER)
def epoch_status(number: int) -> None:
    """Print epoch NUMBER's status (as the chain has it now), due time and transactions as
    JSON."""
    context = _context()
    try:
        lifecycle.refresh_pending(context.db, context.chain)
        with context.db.session() as session:
            click.echo(epochs.describe(session, number).model_dump_json(indent=2))
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@main.group()
def db() -> None:
    """The database's schema: upgrade it (a step of every deploy) and show its revision. Needs
    only RELAYER_DATABASE_URL."""


def _database_url() -> str:
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        _invalid_settings(exc)


@db.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the database to this relayer's schema, printing each revision applied. An empty
    database gets the whole schema; one made before migrations existed is recognised, stamped at
    the baseline and upgraded with its rows kept; anything else is refused."""
    try:
        result = migrate.upgrade(_database_url())
    except (RelayerError, SQLAlchemyError) as exc:
        _fail(f"upgrade refused, the database is unchanged: {_reason(exc)}")
    if result.stamped_baseline:
        click.echo(f"recognised a database made before migrations: stamped {migrate.BASELINE}")
    for step in result.applied:
        click.echo(f"applied {step.revision}: {step.title}")
    if not result.applied:
        click.echo(f"already at {result.revision}: nothing to apply")
    else:
        click.echo(f"the database is at {result.revision} (head)")


@db.command("current")
@click.option("--check", is_flag=True, help="Exit 1 unless the database is at the head.")
def db_current(check: bool) -> None:
    """Show the database's schema revision and whether it is at this relayer's head."""
    try:
        found = migrate.current(_database_url())
    except (RelayerError, SQLAlchemyError) as exc:
        _fail(_reason(exc))
    click.echo(found.describe())
    if check and not found.current:
        sys.exit(1)


def _reason(exc: Exception) -> str:
    """The error without SQLAlchemy's appended SQL and parameters (they can hold row data)."""
    if isinstance(exc, SQLAlchemyError):
        original = getattr(exc, "orig", None)
        return f"{type(exc).__name__}: {original if original is not None else exc}".strip()
    return str(exc)


@main.command()
@click.option("--once", is_flag=True, help="Catch up with the chain once, then exit.")
def index(once: bool) -> None:
    """Follow the union's events into the database (while no other replica is the indexer)."""
    context = _context(acting=True)
    try:
        if once:
            click.echo(f"{context.indexer.run_once()} events indexed")
        else:
            run_indexer(context, threading.Event())
    finally:
        context.close()


@main.command()
@click.option("--data-type", required=True)
@click.option("--records", required=True, type=click.IntRange(min=0), help="Records a month.")
@click.option("--quality", required=True, type=Decimal)
@click.option("--uniqueness", default=Decimal(0), type=Decimal, show_default=True)
@click.option(
    "--offline",
    is_flag=True,
    help="Only the shares, from the default rates: no settings, no chain, no earnings.",
)
def estimate(
    data_type: str, records: int, quality: Decimal, uniqueness: Decimal, offline: bool
) -> None:
    """Projected monthly earnings (an estimate), from the union's recent revenue per share."""
    if offline:
        try:
            shares = attribution.estimate_shares(
                data_type,
                records,
                attribution.to_ppm(quality, "quality"),
                attribution.to_ppm(uniqueness, "uniqueness"),
                attribution.DEFAULT_PARAMETERS,
            )
        except RelayerError as exc:
            _fail(str(exc))
        click.echo(
            json.dumps(
                {
                    "data_type": data_type,
                    "records": records,
                    "shares": shares,
                    "value": attribution.micro_to_text(shares),
                }
            )
        )
        return
    context = _context()
    try:
        with context.db.session() as session:
            projected = estimator.estimate(
                session,
                context.chain,
                context.settings.parameters,
                data_type=data_type,
                records_per_month=records,
                quality=quality,
                uniqueness=uniqueness,
            )
        click.echo(projected.model_dump_json(indent=2))
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@main.command("verify-report")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_report(path: Path) -> None:
    """Recompute a report's shares and keccak256 from the report alone."""
    try:
        verified = attribution.verify_report(path.read_bytes())
    except (RelayerError, ValueError, KeyError) as exc:
        _fail(f"report does not verify: {exc}")
    click.echo(
        json.dumps(
            {
                "epoch": verified.epoch,
                "reportHash": verified.report_hash,
                "members": len(verified.shares),
                "totalShares": sum(verified.shares.values()),
            }
        )
    )


main.add_command(watch)
main.add_command(claim)
main.add_command(page)

if __name__ == "__main__":
    main()
