"""The demo's ending: every figure reconciled against the chain to the unit, then the table, the
books, the checks, summary.json and a chart of earnings by data type."""

import json
from collections import defaultdict
from decimal import Decimal
from math import ceil, floor
from pathlib import Path
from typing import Any

from relayer.attribution import DEFAULT_RATES
from scripts import demo_people as cast
from scripts.helpers import say, units


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
                "data_type": wallet.label,
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

    from scripts.status import members, solvency

    union = demo.union.functions
    union_contract = DataUnion.at(demo.union.address, persist=False)
    books = solvency(union_contract, demo.record, members(union_contract, demo.record))
    rows = member_rows(demo)
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    deposited = union.totalDeposited().call()
    paid = sum(d["paid"] for d in demo.deposits)
    check("buyers' wallets paid = total deposited", paid == deposited, f"{paid} = {deposited}")
    events = demo.union.events.RevenueDeposited().get_logs(from_block=demo.record["block"])
    fees = [int(event.args.fee) for event in events]
    expected_fees = [d["expected_fee"] for d in demo.deposits]
    check("the fee of each payment = 5%, rounded down", fees == expected_fees, f"{fees}")
    owed = union.feesOwed(demo.treasury.address).call()
    check("fees owed to the treasury = fees charged", owed == sum(fees), f"{owed}")
    claimed = union.totalClaimed().call()
    claimed_events = sum(row["claimed"] for row in rows)
    withdrawn = union.totalFeesWithdrawn().call()
    check(
        "conservation: buyers paid = pool balance + claims (events) + fees withdrawn",
        paid == books["balance"] + claimed_events + withdrawn,
        f"{paid} = {books['balance']} + {claimed_events} + {withdrawn}",
    )
    check(
        "the pool balance = what the union's counters say it holds (nothing unaccounted)",
        books["unsynced"] == 0,
        f"difference {books['unsynced']}",
    )
    check(
        "solvent: balance - (claimable + fees owed + undistributed) = rounding remainder, "
        "0 <= remainder < 1 unit per member",
        0 <= books["remainder"] < len(rows),
        f"{books['remainder']} units",
    )
    check(
        "each member's wallet holds exactly what their Claimed events say; sum = totalClaimed",
        all(row["wallet_balance"] == row["claimed"] for row in rows) and claimed_events == claimed,
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
        "each member earned the exact pro-rata sum over all payments, within the contract's "
        "rounding (floor - 1 to ceil)",
        not off,
        f"outside: {off}",
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
        "the gasless claim: sent by the relayer, the member's ETH untouched, her nonce now 1",
        demo.gasless_sender == demo.relayer_key.address
        and demo.w3.eth.get_balance(gasless.address) == cast.FUNDING
        and union.nonces(gasless.address).call() == 1,
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
    watched = [e["watcher"] for e in demo.epochs]
    check(
        "the watcher, from the chain and the reports alone, found every epoch as reported",
        all(w == "the report and the chain agree" for w in watched),
        "; ".join(watched),
    )
    return {
        "ok": all(c["ok"] for c in checks),
        "checks": checks,
        "books": books,
        "members": rows,
        "total_deposited": deposited,
        "total_claimed": claimed,
        "fees": sum(fees),
    }


def earnings_by_type(rows: list[dict[str, Any]]) -> dict[str, int]:
    totals = dict.fromkeys(DEFAULT_RATES, 0)  # the explainer's order, most valuable first
    for row in rows:
        totals[row["data_type"]] += row["earned"]
    return totals


def print_table(rows: list[dict[str, Any]], decimals: int) -> None:
    header = f"{'member':<7}{'data type':<16}{'value':>12}{'shares':>16}"
    say(header + f"{'earned':>14}{'claimed':>14}{'claimable':>14}  note")
    for r in rows:
        earned, claimed, due = (units(r[k], decimals) for k in ("earned", "claimed", "claimable"))
        say(
            f"{r['name']:<7}{r['data_type']:<16}{Decimal(r['value']):>12,.2f}{r['shares']:>16,}"
            f"{earned:>14}{claimed:>14}{due:>14}  {r['note']}"
        )


def chart(totals: dict[str, int], path: Path, decimals: int, symbol: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    labels = [t.replace("_", " ") for t in totals]
    amounts = [value / 10**decimals for value in totals.values()]
    bars = axes.bar(labels, amounts, color="#3b6ea8")
    axes.bar_label(bars, labels=[f"{a:,.2f}" for a in amounts], fontsize=8)
    axes.set_ylabel(f"earned ({symbol})")
    axes.set_title("Members' earnings by data type")
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def publish(demo: Any, results: dict[str, Any], output: Path, seconds: float) -> None:
    rows = results["members"]
    decimals, symbol = demo.record["tokenDecimals"], demo.record["tokenSymbol"]
    say()
    say(f"Summary (amounts in {symbol}; value in units of the attribution method)")
    print_table(rows, decimals)
    books = results["books"]
    say()
    say(f"The books, to the unit ({symbol})")
    say(f"  total deposited        {units(results['total_deposited'], decimals):>14}")
    say(f"  claimed by members     {units(results['total_claimed'], decimals):>14}")
    for key in ("balance", "claimable", "fees_owed", "undistributed", "remainder"):
        say(f"  {key.replace('_', ' '):<22} {units(books[key], decimals):>14}")
    say("  pool balance = claimable (unclaimed) + fees owed + undistributed + remainder")
    say()
    say("Checks")
    for item in results["checks"]:
        say(f"  [{'ok' if item['ok'] else 'FAIL'}] {item['check']}  ({item['detail']})")
    totals = earnings_by_type(rows)
    chart(totals, output / "earnings_by_type.png", decimals, symbol)
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
