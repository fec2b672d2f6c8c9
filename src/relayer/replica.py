"""What a replica does beside serving the API: send transactions while it holds the sender role
and index the chain while it holds the indexer role (see relayer.roles). Each worker tries to
take its role every poll interval, so a replica takes over within one interval of the holder
dying."""

import logging
import threading
from functools import partial

from requests.exceptions import RequestException
from sqlalchemy.exc import SQLAlchemyError
from web3.exceptions import Web3Exception

from relayer import epochs
from relayer.context import Context
from relayer.errors import RelayerError
from relayer.lifecycle import Finisher
from relayer.roles import Role

log = logging.getLogger(__name__)

#: Failures a worker logs and retries after a pause rather than dying of.
TRANSIENT = (RelayerError, Web3Exception, RequestException, SQLAlchemyError, OSError)
#: Pause after such a failure, at least.
BACKOFF_S = 5.0


class SenderWorker:
    """Sends the relayer's transactions (epoch batches, and follows every row that holds a
    nonce) and finishes pending epochs once they are due, while this process holds the sender
    role.

    `kick()` asks for work to be done now: the API calls it after planning an epoch. With the
    loop running (`relayer serve`) it wakes the loop; without it (a one-off process, a test
    client) it sends in the caller's thread if the role is free. A replica that does not hold
    the role leaves the work to the one that does, which finds it within a poll interval.
    """

    def __init__(self, context: Context) -> None:
        self.context = context
        self._wake = threading.Event()
        self._running = False
        self._finisher = Finisher(context.db, context.chain, context.outbox)

    def _fence(self) -> bool:
        return self.context.roles.holds(Role.SENDER)

    def send_if_sender(self, stop: threading.Event | None = None) -> bool:
        """Send whatever is due if this process holds (or can take) the sender role."""
        if not self.context.roles.try_acquire(Role.SENDER):
            return False
        epochs.send(self.context.db, self.context.outbox, fence=self._fence, stop=stop)
        if self._fence():  # `send` returns early once the role is lost
            self._finisher.run_once()
        return True

    def kick(self, number: int | None = None) -> None:
        """Have epoch `number` (or whatever is due) sent now. Without the loop, this posts it in
        the caller's thread as a background posting does: node failures are retried for
        `RELAYER_POST_RETRY_SECONDS` and shown on the epoch (relayer.epochs.post_in_background)."""
        if self._running:
            self._wake.set()
            return
        context = self.context
        if not context.roles.try_acquire(Role.SENDER):
            return
        if number is None:
            epochs.send(context.db, context.outbox, fence=self._fence)
            return
        epochs.post_in_background(
            context.db,
            context.outbox,
            number,
            retry_seconds=context.settings.post_retry_seconds,
            alarms=context.alarms,
            fence=self._fence,
        )

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """The loop of `relayer serve`, until `stop` is set (then call `wake`)."""
        self._running = True
        interval = self.context.settings.poll_interval
        try:
            while not stop.is_set():
                try:
                    self.send_if_sender(stop)
                except TRANSIENT as exc:
                    log.warning("sender: %s: %s; retrying", type(exc).__name__, exc)
                    stop.wait(max(interval, BACKOFF_S))
                self._wake.wait(interval)
                self._wake.clear()
        finally:
            self._running = False


def run_claim_sender(context: Context, stop: threading.Event) -> None:
    """Follow the gasless claims of a separate claim key to their receipts (re-broadcasting,
    re-pricing) while this process holds that key's sender role, until `stop` is set."""
    interval = context.settings.poll_interval
    roles = context.roles
    while not stop.is_set():
        if roles.try_acquire(Role.CLAIM_SENDER):
            try:
                context.claim_outbox.process(
                    stop=stop, fence=partial(roles.holds, Role.CLAIM_SENDER), posting_only=True
                )
            except TRANSIENT as exc:
                log.warning("claim sender: %s: %s; retrying", type(exc).__name__, exc)
                stop.wait(max(interval, BACKOFF_S))
                continue
        stop.wait(interval)


def run_indexer(context: Context, stop: threading.Event) -> None:
    """Index the chain while this process holds the indexer role, until `stop` is set. Errors
    of the node or the database are logged and retried after a pause, never fatal."""
    interval = context.settings.poll_interval
    indexer = context.indexer
    holds = partial(context.roles.try_acquire, Role.INDEXER)
    while not stop.is_set():
        if holds():
            try:
                indexer.run_once(stop)
            except TRANSIENT as exc:
                log.warning("indexer: %s: %s; retrying", type(exc).__name__, exc)
                stop.wait(max(interval, BACKOFF_S))
                continue
        stop.wait(interval)
