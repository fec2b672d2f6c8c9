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
    address,
    load_union,
    require_role,
    role_name,
    say,
    signer,
    transact,
)


def _role_id(union, role):
    return getattr(union, ROLES[role_name(role)])()


def show(account):
    union, _ = load_union()
    account = address(account, "account")
    held = [role for role in ROLES if union.hasRole(_role_id(union, role), account)]
    say(f"{account}: {', '.join(held) or 'no role'}")
    return held


def grant(role, account):
    union, _ = load_union()
    sender, account = signer(), address(account, "account")
    require_role(union, "admin", sender)
    if union.hasRole(_role_id(union, role), account):
        raise ScriptError(f"{account} already holds the {role} role")
    role_id = _role_id(union, role)
    transact(f"grant {role} to {account}", union.grantRole, role_id, account, sender=sender)


def revoke(role, account):
    union, _ = load_union()
    sender, account = signer(), address(account, "account")
    require_role(union, "admin", sender)
    if not union.hasRole(_role_id(union, role), account):
        raise ScriptError(f"{account} does not hold the {role} role")
    if role == "admin" and account == sender.address:
        raise ScriptError("refusing to revoke your own admin role: grant it elsewhere first")
    role_id = _role_id(union, role)
    transact(f"revoke {role} from {account}", union.revokeRole, role_id, account, sender=sender)


def main():
    raise ScriptError("say which: grant, revoke or show (see the script's docstring)")
