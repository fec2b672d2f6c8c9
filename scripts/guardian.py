"""The guardian's levers: veto a pending epoch, cancel a scheduled attester or guardian change.

    brownie run scripts/guardian.py --network <name>                       # what there is to stop
    brownie run scripts/guardian.py veto <epoch> --network <name>
    brownie run scripts/guardian.py cancel <role> <address> grant|revoke --network <name>

A vetoed epoch never takes effect; the revenue held while it was pending stays held for the next
epoch that does, and the relayer's next epoch re-posts every address the vetoed one set. Both
levers work while the union is paused. A guardian can stop; it cannot post shares, pause, or
move anyone's money.
"""

from scripts.helpers import (
    ATTRIBUTION_STATES,
    ScriptError,
    acting_as,
    address,
    change_flag,
    delayed_role_name,
    integer,
    load_union,
    pending_role_changes,
    say,
    transact,
    until,
)
from scripts.roles import cancel_change


def main():
    """Read-only: the pending epoch, if any, and the scheduled role changes."""
    union, record = load_union()
    epoch, state, due_at = union.attributionState()
    if ATTRIBUTION_STATES[state] == "pending":
        say(
            f"epoch {epoch} is pending (report {union.currentReportHash()}), due at "
            f"{until(due_at, 'due: anyone can finish it')}"
        )
    else:
        say(f"no epoch is pending (epoch {epoch}: {ATTRIBUTION_STATES[state]})")
    changes = pending_role_changes(union, record)
    for role, account, grant, eta in changes:
        say(
            f"scheduled: {'grant' if grant else 'revoke'} {role} {account}, executable at "
            f"{until(eta, 'ready')}"
        )
    return {"epoch": epoch, "state": ATTRIBUTION_STATES[state], "changes": changes}


def veto(epoch):
    number = integer(epoch, "epoch", 1, 2**64 - 1)
    union, sender = acting_as("guardian")
    current, state, due_at = union.attributionState()
    if number != current or ATTRIBUTION_STATES[state] != "pending":
        raise ScriptError(
            f"epoch {number} is not pending: the current epoch is {current} "
            f"({ATTRIBUTION_STATES[state]}); only a pending epoch can be vetoed"
        )
    transact(
        f"veto epoch {number} (report {union.currentReportHash()}, due at {until(due_at, 'due')})",
        union.vetoAttribution,
        number,
        sender=sender,
    )
    say(f"epoch {number} is vetoed: it never takes effect; revenue stays held for the next epoch")


def cancel(role, account, change):
    role, account = delayed_role_name(role), address(account, "account")
    grant_flag = change_flag(change)
    union, sender = acting_as("guardian")
    cancel_change(union, sender, role, account, grant_flag, change)
