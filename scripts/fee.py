"""The operator fee, changed only through the contract's timelock.

    brownie run scripts/fee.py --network <name>          # the fee and any pending change
    brownie run scripts/fee.py propose <bps> <recipient>  # admin
    brownie run scripts/fee.py apply                      # anyone, once the delay has passed
    brownie run scripts/fee.py cancel                     # admin
    brownie run scripts/fee.py withdraw <to>              # the fee recipient

Members can watch a proposal (the FeeChangeProposed event) for the whole delay before it applies.
"""

from brownie import chain

from scripts.helpers import (
    MAX_FEE_BPS,
    ScriptError,
    acting_as,
    address,
    erc20,
    fee_bps,
    load_union,
    say,
    signer,
    timestamp,
    transact,
    units,
)


def show(union):
    """Print the fee in force and the pending change, if any, with its ETA."""
    say(f"fee        {union.feeBps()} bps to {union.feeRecipient()} (cap {MAX_FEE_BPS} bps)")
    pending_bps, recipient, eta = union.pendingFee()
    if eta == 0:
        say("pending    none")
        return
    state = "ready to apply" if chain.time() >= eta else f"{eta - chain.time():,} s to go"
    say(f"pending    {pending_bps} bps to {recipient}, applies at {timestamp(eta)} ({state})")


def main():
    union, _ = load_union()
    show(union)


def propose(bps, recipient):
    new_bps, recipient = fee_bps(bps), address(recipient, "recipient")
    union, sender = acting_as("admin")
    eta = chain.time() + union.FEE_DELAY()
    description = f"propose a fee of {new_bps} bps to {recipient}, applicable from {timestamp(eta)}"
    pending_bps, pending_recipient, pending_eta = union.pendingFee()
    if pending_eta:
        description += (
            f", replacing the pending {pending_bps} bps to {pending_recipient} "
            "(the delay starts again)"
        )
    transact(description, union.proposeFee, new_bps, recipient, sender=sender)
    show(union)


def apply():
    union, _ = load_union()
    _, _, eta = union.pendingFee()
    if eta == 0:
        raise ScriptError("no fee change is pending")
    transact("apply the pending fee change", union.applyFee, sender=signer())
    show(union)


def cancel():
    union, sender = acting_as("admin")
    transact("cancel the pending fee change", union.cancelFee, sender=sender)
    show(union)


def withdraw(to):
    to = address(to, "to")
    union, _ = load_union()
    sender = signer()
    owed = union.feesOwed(sender)
    decimals = erc20(union.token()).decimals()
    transact(
        f"withdraw {units(owed, decimals)} of fees owed to {sender} to {to}",
        union.withdrawFees,
        to,
        sender=sender,
    )
