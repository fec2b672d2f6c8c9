"""Grant and revoke the union's roles (admin only).

    brownie run scripts/roles.py grant <admin|attester|pauser> <address> --network <name>
    brownie run scripts/roles.py revoke <admin|attester|pauser> <address> --network <name>
    brownie run scripts/roles.py show <address> --network <name>

Rotating the relayer's key: grant `attester` to the new key, restart the relayer with it, then
revoke `attester` from the old one. Only future attributions are at stake: no role can move
earnings members already have.
"""

from scripts.helpers import (
    ROLES,
    ScriptError,
    acting_as,
    address,
    load_union,
    role_id,
    role_name,
    say,
    transact,
)


def show(account):
    union, _ = load_union()
    account = address(account, "account")
    held = [role for role in ROLES if union.hasRole(role_id(union, role), account)]
    say(f"{account}: {', '.join(held) or 'no role'}")
    return held


def grant(role, account):
    role, account = role_name(role), address(account, "account")
    union, sender = acting_as("admin")
    if union.hasRole(role_id(union, role), account):
        raise ScriptError(f"{account} already holds the {role} role")
    transact(
        f"grant {role} to {account}", union.grantRole, role_id(union, role), account, sender=sender
    )


def revoke(role, account):
    role, account = role_name(role), address(account, "account")
    union, sender = acting_as("admin")
    if not union.hasRole(role_id(union, role), account):
        raise ScriptError(f"{account} does not hold the {role} role")
    if role == "admin" and account == sender.address:
        raise ScriptError("refusing to revoke your own admin role: grant it elsewhere first")
    transact(
        f"revoke {role} from {account}",
        union.revokeRole,
        role_id(union, role),
        account,
        sender=sender,
    )


def main():
    raise ScriptError("say which: grant, revoke or show (see the script's docstring)")
