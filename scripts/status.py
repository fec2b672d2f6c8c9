"""Read-only: the union's balances, totals, epoch, fee (and pending change), members' shares and a
solvency check.

    brownie run scripts/status.py --network <name>

Sends nothing and needs no account. Exits with an error if the union is not solvent.
"""

from brownie import chain

from scripts.fee import show as show_fee
from scripts.helpers import (
    ATTRIBUTION_STATES,
    ScriptError,
    erc20,
    events,
    load_union,
    pending_role_changes,
    say,
    units,
    until,
)

#: Members listed one by one (by shares, largest first); the rest are counted.
LISTED_MEMBERS = 25


def show_attribution(union, record):
    """The current epoch and where it stands: pending with its due time, vetoed, or finished;
    earlier vetoes; and scheduled attester and guardian changes with their ETA."""
    epoch, state, due_at = union.attributionState()
    delay = union.ATTRIBUTION_DELAY()
    name = ATTRIBUTION_STATES[state]
    say(f"  attribution delay {delay:,} s ({delay / 3600:g} h): the guardian's window to veto")
    if epoch == 0:
        say("  epoch             none posted yet")
    elif name == "pending":
        say(f"  epoch             {epoch} pending (revenue held), due at {until(due_at, 'due')}")
    elif name == "vetoed":
        say(f"  epoch             {epoch} vetoed: never takes effect; revenue held for the next")
    else:
        say(f"  epoch             {epoch} in force (finished)")
    vetoes = events(union, "AttributionVetoed", record.get("block", 0))
    for veto in vetoes:
        say(f"  vetoed            epoch {veto.args.epoch} by {veto.args.guardian}")
    changes = pending_role_changes(union, record)
    for role, account, grant, eta in changes:
        verb = "grant" if grant else "revoke"
        say(f"  role change       {verb} {role} {account}, executable at {until(eta, 'ready')}")
    return {"epoch": epoch, "state": name, "due_at": due_at, "vetoes": len(vetoes)}


def members(union, record):
    """Every address that ever held shares, from the SharesSet events since deployment."""
    found = events(union, "SharesSet", record.get("block", 0))
    return sorted({event.args.member for event in found})


def fee_recipients(union, record):
    changed = events(union, "FeeChanged", record.get("block", 0))
    first = [record["feeRecipient"]] if record.get("feeRecipient") else []
    return sorted({union.feeRecipient(), *first, *(event.args.recipient for event in changed)})


def solvency(union, record, everyone):
    """What the union holds against what it owes, to the unit; `everyone` is `members()`.

    `accounted` is what the union's own counters say it holds (deposited - claimed - fees
    withdrawn). `unsynced` is what the token balance holds beyond that: a plain transfer that
    sync() has not counted yet; negative means tokens are missing. `remainder` is what the
    counters hold beyond everything owed (claimable, fees, undistributed): rounding dust, below
    one unit per member, carried to the next deposit; negative means the union owes more than
    it has. Solvent: neither is negative.
    """
    balance = erc20(union.token()).balanceOf(union)
    claimable = sum(union.claimable(member) for member in everyone)
    fees = sum(union.feesOwed(recipient) for recipient in fee_recipients(union, record))
    undistributed = union.undistributed()
    accounted = union.totalDeposited() - union.totalClaimed() - union.totalFeesWithdrawn()
    return {
        "balance": balance,
        "claimable": claimable,
        "fees_owed": fees,
        "undistributed": undistributed,
        "remainder": accounted - claimable - fees - undistributed,
        "unsynced": balance - accounted,
    }


def show_roots(union, record, amount):
    """A root-mode union's root in force and pending one, and its solvency as a whole: members'
    claimable figures need their leaves (the relayer, or the published reports), so the check is
    that the counters and the balance agree and cover the fees and held revenue."""
    epoch, root, start = union.activeRoot()
    pending, pending_total = union.pendingRoot()
    say(f"Root in force: epoch {epoch}, root {root}, from accumulator {start:,}")
    say(f"  total shares      {union.totalShares():,}")
    if int(pending_total) or any(bytes(pending)):
        say(f"  pending root      {pending}, total shares {pending_total:,}")
    balance = erc20(union.token()).balanceOf(union)
    accounted = union.totalDeposited() - union.totalClaimed() - union.totalFeesWithdrawn()
    fees = sum(union.feesOwed(recipient) for recipient in fee_recipients(union, record))
    books = {
        "balance": balance,
        "fees_owed": fees,
        "undistributed": union.undistributed(),
        "members_part": accounted - fees - union.undistributed(),
        "unsynced": balance - accounted,
    }
    say("Solvency")
    for key, value in books.items():
        say(f"  {key.replace('_', ' '):<17} {amount(value)}")
    if books["unsynced"] < 0:
        raise ScriptError("the token balance is below what the union's counters say it holds")
    if books["members_part"] < 0:
        raise ScriptError("the fees and held revenue exceed what the union holds")
    say("  members' claimable figures need their leaves: the relayer's /v1/members/{address}")
    return books


def main():
    union, record = load_union()
    token = erc20(union.token())
    decimals, symbol = token.decimals(), token.symbol()

    def amount(value):
        return f"{units(value, decimals):>22} {symbol}"

    say(f"DataUnion {union.address} on chain {chain.id}, block {chain.height}")
    say(f"  paused            {union.paused()}")
    show_attribution(union, record)
    say(f"  total deposited   {amount(union.totalDeposited())}")
    say(f"  total claimed     {amount(union.totalClaimed())}")
    say(f"  fees withdrawn    {amount(union.totalFeesWithdrawn())}")
    show_fee(union)
    if record.get("kind") == "roots":
        return show_roots(union, record, amount)
    everyone = members(union, record)
    total = union.totalShares()
    holders = sorted(
        ((union.sharesOf(m), m) for m in everyone), key=lambda pair: pair[0], reverse=True
    )
    say(f"Members: {len(everyone)} ever held shares; total shares {total:,}")
    for shares, member in holders[:LISTED_MEMBERS]:
        share = f"{shares / total:8.4%}" if total else "       -"
        say(f"  {member} {shares:>24,} {share}  claimable {amount(union.claimable(member))}")
    if len(holders) > LISTED_MEMBERS:
        say(f"  … and {len(holders) - LISTED_MEMBERS} more")
    books = solvency(union, record, everyone)
    say("Solvency")
    for key in ("balance", "claimable", "fees_owed", "undistributed", "remainder", "unsynced"):
        say(f"  {key.replace('_', ' '):<17} {amount(books[key])}")
    if books["unsynced"] < 0:
        raise ScriptError("the token balance is below what the union's counters say it holds")
    if books["remainder"] < 0:
        raise ScriptError("the union owes more than it holds")
    say(
        f"  solvent: the balance covers everything owed, with {units(books['remainder'], decimals)}"
        f" of rounding remainder and {units(books['unsynced'], decimals)} not yet synced"
    )
    if books["remainder"] >= max(len(everyone), 1):
        say("  note: the remainder is more than a unit per member; it goes with the next deposit")
    return books
