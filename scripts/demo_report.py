"""The demo's ending: every figure reconciled against the chain to the unit, then the table, the
books, the checks, summary.json and a chart of earnings by data type."""

import json
from collections import defaultdict
from decimal import Decimal
from math import ceil, floor
from pathlib import Path
from typing import Any

from scripts import demo_people as cast
from scripts.helpers import say, units

#: The order the explainer ranks data types in (most valuable first).
TYPE_ORDER = [
    "health",
    "financial",
    "location",
    "purchases",
    "social",
    "browsing",
    "device_metadata",
]


def _latest_values(demo: Any) -> dict[str, str]:
    """Each member's value of data in the latest report that lists them."""
    values: dict[str, str] = {}
    for epoch in demo.epochs:
        for line in json.loads(epoch["report"])["members"]:
            values[line["address"]] = line["value"]
    return values


def _claims(demo: Any) -> dict[str, int]:
    claimed: dict[str, int] = defaultdict(int)
    for event in demo.union.events.Claimed().get_logs(from_block=demo.record["block"]):
        claimed[event.args.member] += event.args.amount
    return claimed


def member_rows(demo: Any) -> list[dict[str, Any]]:
    """Per member, the chain's figures next to the relayer's and the wallet's."""
    union, token = demo.union.functions, demo.token.functions
    values, claimed_events = _latest_values(demo), _claims(demo)
    rows = []
    for name, wallet in demo.members.items():
        address = wallet.address
        summary = demo.relayer.call("GET", f"/v1/members/{address}", 200)
        claimable = union.claimable(address).call()
        claimed = claimed_events.get(address, 0)
        note = {
            cast.LEAVER: "left",
            cast.DELETER: "data deleted",
            cast.GASLESS_CLAIMER: "gasless claim",
            cast.PARTIAL_CLAIMER: "claimed half",
        }.get(name, "")
        rows.append(
            {
                "name": name,
                "address": address,
                "data_type": wallet.role,
                "value": values.get(address, "0"),
                "shares": union.sharesOf(address).call(),
                "earned": claimed + claimable,
                "claimed": claimed,
                "claimable": claimable,
                "wallet_balance": token.balanceOf(address).call(),
                "ideal": str(demo.ideal[name]),
                "ideal_floor": floor(demo.ideal[name]),
                "ideal_ceil": ceil(demo.ideal[name]),
                "relayer": {
                    "shares": int(summary["shares"]),
                    "claimable": int(summary["claimable"]["units"]),
                    "claimed": int(summary["claimed"]["units"]),
                    "lifetime_earnings": int(summary["lifetime_earnings"]["units"]),
                },
                "gas_paid_by_member": wallet.gas_used,
                "note": note,
            }
        )
    return rows


def reconcile(demo: Any) -> dict[str, Any]:
    from brownie import DataUnion

    from scripts.status import solvency

    union = demo.union.functions
    books = solvency(DataUnion.at(demo.union.address, persist=False), demo.record)
    rows = member_rows(demo)
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    deposited = union.totalDeposited().call()
    paid = sum(d["paid"] for d in demo.deposits)
    check("buyers paid = total deposited", paid == deposited, f"{paid} = {deposited}")
    events = demo.union.events.RevenueDeposited().get_logs(from_block=demo.record["block"])
    fees = sum(event.args.fee for event in events)
    expected_fees = sum(d["expected_fee"] for d in demo.deposits)
    check("fee of each payment = 5%, rounded down", fees == expected_fees, f"{fees}")
    owed = union.feesOwed(demo.treasury.address).call()
    check("fees owed to the treasury = fees charged", owed == fees, f"{owed} = {fees}")
    held = books["claimable"] + books["fees_owed"] + books["undistributed"] + books["remainder"]
    check(
        "pool balance = claimable + fees owed + undistributed + rounding remainder",
        books["balance"] == held and books["unsynced"] == 0,
        f"{books['balance']} = {held}",
    )
    check(
        "rounding remainder < 1 unit per member",
        0 <= books["remainder"] < len(rows),
        f"{books['remainder']} units",
    )
    claimed = union.totalClaimed().call()
    check(
        "total deposited = claimed + claimable + fees + undistributed + remainder",
        deposited == claimed + held,
        f"{deposited} = {claimed} + {held}",
    )
    earned = sum(row["earned"] for row in rows)
    check(
        "members earned = deposits - fees - undistributed - remainder",
        earned == deposited - fees - books["undistributed"] - books["remainder"],
        f"{earned}",
    )
    check(
        "members' wallets hold exactly what they claimed",
        all(row["wallet_balance"] == row["claimed"] for row in rows)
        and sum(row["claimed"] for row in rows) == claimed,
        f"{claimed} in total",
    )
    relayer_agrees = [
        row["name"]
        for row in rows
        if row["relayer"]
        != {
            "shares": row["shares"],
            "claimable": row["claimable"],
            "claimed": row["claimed"],
            "lifetime_earnings": row["earned"],
        }
    ]
    check(
        "the relayer's figures = the chain's, per member", not relayer_agrees, str(relayer_agrees)
    )
    off = [r["name"] for r in rows if not r["ideal_floor"] - 1 <= r["earned"] <= r["ideal_ceil"]]
    check(
        "each member earned their exact share of each payment (to rounding)",
        not off,
        f"outside [floor(ideal) - 1, ceil(ideal)]: {off}",
    )
    for epoch in demo.epochs:
        check(
            f"epoch {epoch['number']}: report verifies, its hash and shares are on-chain",
            epoch["hash_on_chain"] == epoch["report_hash"] and not epoch["shares_differ_on_chain"],
            epoch["report_hash"],
        )
    by_name = {row["name"]: row for row in rows}
    gasless = demo.members[cast.GASLESS_CLAIMER]
    check(
        "the gasless claimer paid no gas and used nonce 0",
        gasless.gas_used == 0 and union.nonces(gasless.address).call() == 1,
        f"claimed {by_name[cast.GASLESS_CLAIMER]['claimed']}",
    )
    check(
        "the leaver and the deleter hold no shares and kept their earnings",
        all(
            by_name[n]["shares"] == 0 and by_name[n]["claimed"] > 0
            for n in (cast.LEAVER, cast.DELETER)
        ),
        "",
    )
    return {
        "ok": all(c["ok"] for c in checks),
        "checks": checks,
        "books": books,
        "members": rows,
        "total_deposited": deposited,
        "total_claimed": claimed,
        "fees": fees,
    }


def earnings_by_type(rows: list[dict[str, Any]]) -> dict[str, int]:
    totals = dict.fromkeys(TYPE_ORDER, 0)
    for row in rows:
        totals[row["data_type"]] += row["earned"]
    return totals


def _amount(value: int) -> str:
    return units(value, cast.DECIMALS)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'member':<7}{'data type':<16}{'value':>12}{'shares':>16}"
    say(header + f"{'earned':>14}{'claimed':>14}{'claimable':>14}  note")
    for r in rows:
        say(
            f"{r['name']:<7}{r['data_type']:<16}{Decimal(r['value']):>12,.2f}{r['shares']:>16,}"
            f"{_amount(r['earned']):>14}{_amount(r['claimed']):>14}{_amount(r['claimable']):>14}"
            f"  {r['note']}"
        )


def chart(totals: dict[str, int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    labels = [t.replace("_", " ") for t in totals]
    amounts = [value / cast.UNIT for value in totals.values()]
    bars = axes.bar(labels, amounts, color="#3b6ea8")
    axes.bar_label(bars, labels=[f"{a:,.2f}" for a in amounts], fontsize=8)
    axes.set_ylabel("earned (mUSD)")
    axes.set_title("Members' earnings by data type")
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def publish(demo: Any, results: dict[str, Any], output: Path, seconds: float) -> None:
    rows = results["members"]
    say()
    say("Summary (amounts in mUSD; value in units of the attribution method)")
    print_table(rows)
    books = results["books"]
    say()
    say("The books, to the unit")
    say(f"  total deposited        {_amount(results['total_deposited']):>14}")
    say(f"  claimed by members     {_amount(results['total_claimed']):>14}")
    for key in ("balance", "claimable", "fees_owed", "undistributed", "remainder"):
        say(f"  {key.replace('_', ' '):<22} {_amount(books[key]):>14}")
    say("  pool balance = claimable + fees owed + undistributed + remainder")
    say()
    say("Checks")
    for item in results["checks"]:
        say(f"  [{'ok' if item['ok'] else 'FAIL'}] {item['check']}  ({item['detail']})")
    totals = earnings_by_type(rows)
    chart(totals, output / "earnings_by_type.png")
    summary = {
        "ok": results["ok"],
        "seconds": round(seconds, 1),
        "deployment": demo.record,
        "epochs": [{k: v for k, v in e.items() if k != "report"} for e in demo.epochs],
        "deposits": demo.deposits,
        "members": rows,
        "earnings_by_type": totals,
        "books": books,
        "checks": results["checks"],
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    for epoch in demo.epochs:
        (output / f"epoch-{epoch['number']}-report.json").write_text(epoch["report"])
    say()
    verdict = "every figure reconciles" if results["ok"] else "SOMETHING DOES NOT RECONCILE"
    say(f"{verdict}; {seconds:.1f} s. Written to {output}: summary.json, earnings_by_type.png,")
    say("epoch reports (check one with `relayer verify-report`), relayer.db and the logs.")
