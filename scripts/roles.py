"""Grant and revoke the union's roles.

    brownie run scripts/roles.py grant <role> <address> --network <name>     # admin
    brownie run scripts/roles.py revoke <role> <address> --network <name>    # admin
    brownie run scripts/roles.py execute <role> <address> grant|revoke ...   # anyone, after ETA
    brownie run scripts/roles.py cancel <role> <address> grant|revoke ...    # admin
    brownie run scripts/roles.py pending --network <name>                    # scheduled changes
    brownie run scripts/roles.py show <address> --network <name>

`admin` and `pauser` change at once. `attester` and `guardian` never do: `grant`/`revoke` of
them schedules the change, which anyone can execute once the union's attribution delay has
passed, and which the admin or a guardian can cancel until then. So a stolen admin key can
neither slip in an attester of its own nor remove the guardian before the guardian can stop it.

Rotating the relayer's key: `grant attester <new>` and `revoke attester <old>`, wait the delay,
`execute` both (new first), restart the relayer with the new key. Only future attributions are
at stake: no role can move earnings members already have.
"""

from scripts.helpers import (
    DELAYED_ROLES,
    ROLES,
    ScriptError,
    acting_as,
    address,
    change_flag,
    delayed_role_name,
    load_union,
    pending_role_changes,
    role_id,
    role_name,
    say,
    signer,
    transact,
    until,
)


def show(account):
    union, record = load_union()
    account = address(account, "account")
    held = [role for role in ROLES if union.hasRole(role_id(union, role), account)]
    say(f"{account}: {', '.join(held) or 'no role'}")
    for role, who, grant, eta in pending_role_changes(union, record):
        if who == account:
            verb = "grant" if grant else "revoke"
            say(f"  scheduled: {verb} {role}, executable at {until(eta, 'ready')}")
    return held


def pending():
    """Every scheduled attester and guardian change with its ETA."""
    union, record = load_union()
    changes = pending_role_changes(union, record)
    if not changes:
        say("no role change is scheduled")
    for role, account, grant, eta in changes:
        verb = "grant" if grant else "revoke"
        say(f"{verb} {role} {account}: executable at {until(eta, 'ready')}")
    return changes


def grant(role, account):
    role, account = role_name(role), address(account, "account")
    union, sender = acting_as("admin")
    if union.hasRole(role_id(union, role), account):
        raise ScriptError(f"{account} already holds the {role} role")
    if role in DELAYED_ROLES:
        return _schedule(union, sender, role, account, True)
    transact(
        f"grant {role} to {account}", union.grantRole, role_id(union, role), account, sender=sender
    )
    return None


def revoke(role, account):
    role, account = role_name(role), address(account, "account")
    union, sender = acting_as("admin")
    if not union.hasRole(role_id(union, role), account):
        raise ScriptError(f"{account} does not hold the {role} role")
    if role == "admin" and account == sender.address:
        raise ScriptError("refusing to revoke your own admin role: grant it elsewhere first")
    if role in DELAYED_ROLES:
        return _schedule(union, sender, role, account, False)
    transact(
        f"revoke {role} from {account}",
        union.revokeRole,
        role_id(union, role),
        account,
        sender=sender,
    )
    return None


def execute(role, account, change):
    """Carry out a scheduled change whose ETA has passed (anyone may)."""
    role, account = delayed_role_name(role), address(account, "account")
    grant_flag = change_flag(change)
    union, _ = load_union()
    eta = _scheduled_eta(union, role, account, grant_flag, change)
    sender = signer()
    transact(
        f"{change} {role} {account} (scheduled, executable since {until(eta, 'ready')})",
        union.executeRoleChange,
        role_id(union, role),
        account,
        grant_flag,
        sender=sender,
    )


def cancel(role, account, change):
    """Withdraw a scheduled change (the admin here; a guardian with scripts/guardian.py)."""
    role, account = delayed_role_name(role), address(account, "account")
    grant_flag = change_flag(change)
    union, sender = acting_as("admin")
    cancel_change(union, sender, role, account, grant_flag, change)


def cancel_change(union, sender, role, account, grant_flag, change):
    """Shared by roles.py (as admin) and guardian.py (as guardian)."""
    _scheduled_eta(union, role, account, grant_flag, change)
    transact(
        f"cancel the scheduled {change} of {role} for {account}",
        union.cancelRoleChange,
        role_id(union, role),
        account,
        grant_flag,
        sender=sender,
    )


def _schedule(union, sender, role, account, grant_flag):
    verb = "grant" if grant_flag else "revoke"
    existing = union.roleChangeEta(role_id(union, role), account, grant_flag)
    if existing:
        raise ScriptError(
            f"{verb} {role} {account} is already scheduled, "
            f"executable at {until(existing, 'ready')}"
        )
    delay = union.ATTRIBUTION_DELAY()
    tx = transact(
        f"schedule: {verb} {role} {account}, executable after the {delay:,} s attribution delay",
        union.scheduleRoleChange,
        role_id(union, role),
        account,
        grant_flag,
        sender=sender,
    )
    eta = int(tx.return_value) if tx.return_value is not None else int(tx.timestamp + delay)
    say(f"   scheduled; executable at {until(eta, 'ready')}: then")
    say(f"   brownie run scripts/roles.py execute {role} {account} {verb}")
    return eta


def _scheduled_eta(union, role, account, grant_flag, change):
    eta = union.roleChangeEta(role_id(union, role), account, grant_flag)
    if not eta:
        raise ScriptError(f"no {change} of {role} for {account} is scheduled")
    return eta


def main():
    raise ScriptError(
        "say which: grant, revoke, execute, cancel, pending or show (see the script's docstring)"
    )
