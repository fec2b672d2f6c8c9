"""Read-only: the union's balances, totals, epoch, fee (and pending change) and a solvency check.

    brownie run scripts/status.py --network <name>

Sends nothing and needs no account. Exits with an error if the union is not solvent.
"""

from brownie import chain

from scripts.helpers import ScriptError, erc20, load_union, say, timestamp, units


def members(union, record):
    """Every address that ever held shares, from the SharesSet events since deployment."""
    events = union.events.get_sequence(record.get("block", 0), event_type="SharesSet")
    return sorted({event.args.member for event in events})


def fee_recipients(union, record):
    events = union.events.get_sequence(record.get("block", 0), event_type="FeeChanged")
    return sorted({record["feeRecipient"], *(event.args.recipient for event in events)})


def solvency(union, record):
    """What the union holds against what it owes, to the unit.

    `remainder` is rounding dust carried to the next deposit; `unsynced` is a plain transfer
    that sync() has not counted yet. Both are held, never owed: the union is solvent when
    neither is negative.
    """
    token = erc20(union.token())
    balance = token.balanceOf(union)
    claimable = sum(union.claimable(member) for member in members(union, record))
    fees = sum(union.feesOwed(recipient) for recipient in fee_recipients(union, record))
    undistributed = union.undistributed()
    paid_out = union.totalClaimed() + union.totalFeesWithdrawn()
    return {
        "balance": balance,
        "claimable": claimable,
        "fees_owed": fees,
        "undistributed": undistributed,
        "remainder": union.totalDeposited() - paid_out - claimable - fees - undistributed,
        "unsynced": balance - (union.totalDeposited() - paid_out),
    }


def main():
    union, record = load_union()
    token = erc20(union.token())
    decimals, symbol = token.decimals(), token.symbol()

    def amount(value):
        return f"{units(value, decimals):>22} {symbol}"

    say(f"DataUnion {union.address} on chain {chain.id}, block {chain.height}")
    say(f"  paused            {union.paused()}")
    say(f"  epoch             {union.currentEpoch()} (posting: {union.attributionInProgress()})")
    count = len(members(union, record))
    say(f"  members           {count} ever held shares; total shares {union.totalShares():,}")
    say(f"  total deposited   {amount(union.totalDeposited())}")
    say(f"  total claimed     {amount(union.totalClaimed())}")
    say(f"  fees withdrawn    {amount(union.totalFeesWithdrawn())}")
    say(f"  fee               {union.feeBps()} bps to {union.feeRecipient()}")
    pending_bps, recipient, eta = union.pendingFee()
    if eta:
        say(f"  pending fee       {pending_bps} bps to {recipient} at {timestamp(eta)}")
    books = solvency(union, record)
    say("Solvency")
    for key in ("balance", "claimable", "fees_owed", "undistributed", "remainder", "unsynced"):
        say(f"  {key.replace('_', ' '):<17} {amount(books[key])}")
    if books["remainder"] < 0 or books["unsynced"] < 0:
        raise ScriptError("the union owes more than it holds")
    say("  solvent: balance = claimable + fees owed + undistributed + remainder + unsynced")
    return books
