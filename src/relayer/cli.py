"""The `relayer` command: serve the API, close and post epochs, index, estimate, verify reports.

Settings come from the environment (`RELAYER_*`, see relayer.settings); a bad setting is named
with the rule it breaks, never with its value.
"""

import json
import logging
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from tqdm import tqdm

from relayer import attribution, epochs, estimator, redact
from relayer.context import Context
from relayer.errors import RelayerError
from relayer.settings import Settings


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _context() -> Context:
    try:
        settings = Settings()  # type: ignore[call-arg]  # filled from the environment
    except ValidationError as exc:
        problems = "; ".join(
            f"RELAYER_{'_'.join(map(str, e['loc'])).upper() or '?'}: {e['msg']}"
            for e in exc.errors()
        )
        _fail(f"invalid settings: {problems}")
    redact.protect(settings)
    try:
        return Context.from_settings(settings)
    except RelayerError as exc:
        _fail(str(exc))


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

    context = _context()
    try:
        Service(context, host=host, port=port, access_log=access_log).run()
    finally:
        context.close()


@main.group()
def epoch() -> None:
    """Close, post and inspect attribution epochs."""


def _post_with_progress(context: Context, number: int) -> None:
    with context.db.session() as session:
        total = len(epochs.describe(session, number).transactions)
    with tqdm(total=total, unit="tx", desc=f"epoch {number}", file=sys.stderr) as bar:
        outcome = epochs.post(context, number, progress=lambda _tx: bar.update(1))
    click.echo(outcome.model_dump_json(indent=2))
    if outcome.status != "posted":
        _fail(f"epoch {number} is {outcome.status}: {outcome.error}")


@epoch.command("close")
@click.option("--no-post", is_flag=True, help="Only freeze the report and plan the batches.")
def epoch_close(no_post: bool) -> None:
    """Freeze the next epoch's report and post its shares (with a progress bar)."""
    context = _context()
    try:
        context.indexer.run_once()
        closed = epochs.close(context)
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
    context = _context()
    try:
        _post_with_progress(context, number)
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
        click.echo(epochs.abandon(context, number).model_dump_json(indent=2))
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@epoch.command("status")
@click.argument("number", type=EPOCH_NUMBER)
def epoch_status(number: int) -> None:
    """Print epoch NUMBER's status and transactions as JSON."""
    context = _context()
    try:
        with context.db.session() as session:
            click.echo(epochs.describe(session, number).model_dump_json(indent=2))
    except RelayerError as exc:
        _fail(str(exc))
    finally:
        context.close()


@main.command()
@click.option("--once", is_flag=True, help="Catch up with the chain once, then exit.")
def index(once: bool) -> None:
    """Follow the union's events into the database."""
    context = _context()
    indexer = context.indexer
    try:
        if once:
            click.echo(f"{indexer.run_once()} events indexed")
        else:
            indexer.run(threading.Event())
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


if __name__ == "__main__":
    main()
