"""Alarms on the relayer's keys: a balance below its threshold, and a node refusing a key's
transactions. Each is an error-level log line (`ALARM …`, at most once a minute per key while it
lasts, so a log watcher can page someone) and an entry of `GET /v1/status`; neither stops
anything by itself. The thresholds sit above what a transaction needs, so the alarm comes first.
"""

import contextlib
import logging
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from web3.exceptions import Web3Exception

from relayer.errors import RelayerError

if TYPE_CHECKING:
    from relayer.context import Context
    from relayer.outbox import Outbox

log = logging.getLogger(__name__)

#: Least time between two alarm lines for the same key and cause.
REPEAT_SECONDS = 60.0
#: How often the service's watcher reads the keys' balances.
WATCH_SECONDS = 30.0
WEI = Decimal(10) ** 18


class KeyStatus(BaseModel):
    role: str = Field(description='what the key pays for: "attester", "claims", or both')
    address: str
    balance: str | None = Field(description="in wei; null if the node could not be asked")
    alarm_below: str = Field(description="the alarm threshold, in wei")
    low_balance: bool
    send_refused: str | None = Field(
        description="why the node refuses this key's transactions now, if it does"
    )


class Status(BaseModel):
    ok: bool = Field(description="no alarm is raised")
    alarms: list[str]
    keys: list[KeyStatus]


class Alarms:
    """The balance thresholds and the last alarm lines, shared by the API and the workers."""

    def __init__(self, thresholds: dict[str, Decimal]) -> None:
        #: role → threshold in wei
        self.thresholds = {role: int(value * WEI) for role, value in thresholds.items()}
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def alarm(self, role: str, cause: str, message: str) -> None:
        """Log `message` at error level unless the same alarm was logged within a minute."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get((role, cause))
            if last is not None and now - last < REPEAT_SECONDS:
                return
            self._last[(role, cause)] = now
        log.error("ALARM %s", message)

    def threshold(self, role: str) -> int:
        """A key's threshold in wei; a key with two roles ("attester+claims") takes the higher."""
        return max(self.thresholds[part] for part in role.split("+"))

    def check_balance(self, role: str, address: str, balance: int) -> bool:
        """True (and an alarm) if `balance` is below `role`'s threshold."""
        threshold = self.threshold(role)
        if balance >= threshold:
            return False
        self.alarm(
            role,
            "balance",
            f"{role} key {address} holds {Decimal(balance) / WEI} in gas currency, below the "
            f"alarm threshold {Decimal(threshold) / WEI}: fund it before its transactions fail",
        )
        return True

    def check_outbox(self, outbox: "Outbox") -> None:
        check_outbox_balance(self, outbox)


def check_outbox_balance(alarms: Alarms, outbox: "Outbox") -> None:
    """Raise the alarm for `outbox`'s key if its balance is low; a node failure here is left to
    whatever uses the outbox next, which meets it and reports it."""
    with contextlib.suppress(Web3Exception, OSError, RelayerError):
        alarms.check_balance(outbox.role, outbox.signer.address, outbox.sender.balance())


def status(context: "Context") -> Status:
    """Every key's balance and refusals, raising the alarms it finds."""
    keys = []
    alarms = []
    for outbox in context.outboxes():
        balance: int | None
        try:
            balance = outbox.sender.balance()
        except (Web3Exception, OSError, RelayerError):
            balance = None
            alarms.append(f"{outbox.role} key {outbox.signer.address}: balance unreadable")
        role = outbox.role
        threshold = context.alarms.threshold(role)
        low = balance is not None and context.alarms.check_balance(
            role, outbox.signer.address, balance
        )
        if low:
            alarms.append(f"{role} key {outbox.signer.address}: balance below the alarm threshold")
        refused = outbox.alarm.message if outbox.alarm is not None else None
        if refused is not None:
            alarms.append(f"{role} key {outbox.signer.address}: the node refuses its transactions")
        keys.append(
            KeyStatus(
                role=role,
                address=outbox.signer.address,
                balance=None if balance is None else str(balance),
                alarm_below=str(threshold),
                low_balance=low,
                send_refused=refused,
            )
        )
    return Status(ok=not alarms, alarms=alarms, keys=keys)


def watch(context: "Context", stop: threading.Event) -> None:
    """The service's worker: read the balances every WATCH_SECONDS until `stop`."""
    while not stop.is_set():
        try:
            status(context)
        except Exception as exc:  # a watcher must outlive any one failure
            log.warning("alarm watcher: %s", type(exc).__name__)
        stop.wait(WATCH_SECONDS)
