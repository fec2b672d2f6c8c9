"""Turns the measured rows into bench/results/gas.json, gas.md and gas-claim-vs-members.png, and
checks the targets of the gas issue against figures of the same run."""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FLOOR_NAMES = {
    "F0": "transfer to a fresh address",
    "F1": "transfer to a holder",
    "FT": "transferFrom to a holder, finite allowance left above zero",
}
OURS = "DataUnion"
ROOTS = "DataUnionRoots"
FIRST_CLAIM = "claim, first, to a fresh wallet"
LATER_CLAIM = "claim, later, to a holder"
SIGNED_CLAIM = "claimWithSig, first, to a fresh wallet"
ANCHOR_FIRST_CLAIMS = {
    "MerkleDistributor": "claim, first in its bitmap word, to a fresh wallet",
    "PaymentSplitter": "release, first, to a fresh wallet",
}
ROOTS_FIRST_EVER = "claim, member's first ever, to a fresh wallet"
ROOTS_FIRST = "claim, first under a root, to a fresh wallet"
ROOTS_LATER = "claim, later under the same root (no proof), to a holder"
ROOTS_EPOCHS = {
    "the first": "an epoch, the first: postRoot + finishAttribution",
    "a later one": "an epoch, a later one: postRoot + finishAttribution",
}
PLOTTED = [
    (OURS, FIRST_CLAIM, "DataUnion claim, first (fresh wallet)", "tab:blue", "-"),
    (OURS, LATER_CLAIM, "DataUnion claim, later (holder)", "tab:blue", "--"),
    (
        ROOTS,
        ROOTS_FIRST_EVER,
        "DataUnionRoots claim, member's first (fresh wallet)",
        "tab:red",
        ":",
    ),
    (ROOTS, ROOTS_FIRST, "DataUnionRoots claim, first under a root (fresh wallet)", "tab:red", "-"),
    (ROOTS, ROOTS_LATER, "DataUnionRoots claim, later, no proof (holder)", "tab:red", "--"),
    (
        "MerkleDistributor",
        "claim, first in its bitmap word, to a fresh wallet",
        "MerkleDistributor claim, first in word (fresh wallet)",
        "tab:orange",
        "-",
    ),
    (
        "MerkleDistributor",
        "claim, bitmap word already written, to a fresh wallet",
        "MerkleDistributor claim, word written (fresh wallet)",
        "tab:orange",
        "--",
    ),
    (
        "PaymentSplitter",
        "release, first, to a fresh wallet",
        "PaymentSplitter release, first (fresh wallet)",
        "tab:green",
        "-",
    ),
    (
        "PaymentSplitter",
        "release, later, to a holder",
        "PaymentSplitter release, later (holder)",
        "tab:green",
        "--",
    ),
]


def _gas(rows: list[dict[str, Any]], design: str, operation: str, members: int) -> float | None:
    for row in rows:
        if (row["design"], row["operation"], row["members"]) == (design, operation, members):
            return float(row["gas"])
    return None


def targets(
    floors: dict[str, int], rows: list[dict[str, Any]], sizes: list[int]
) -> list[dict[str, Any]]:
    """Each target of the issue, at every member count measured: limit, figure, met or not."""
    out = []

    def check(name: str, members: int, figure: float | None, limit: float | None) -> None:
        if figure is not None and limit is not None:
            out.extend(_one(name, members, figure, limit))

    for n in sizes:
        first = _gas(rows, OURS, FIRST_CLAIM, n)
        check("first claim <= 1.30 x F0", n, first, 1.30 * floors["F0"])
        anchors = [
            g for d, op in ANCHOR_FIRST_CLAIMS.items() if (g := _gas(rows, d, op, n)) is not None
        ]
        if anchors:
            check("first claim >= 20% below the best anchor", n, first, 0.80 * min(anchors))
        check("later claim <= 1.40 x F1", n, _gas(rows, OURS, LATER_CLAIM, n), 1.40 * floors["F1"])
        signed = _gas(rows, OURS, SIGNED_CLAIM, n)
        check("claimWithSig <= first claim + 8,000", n, signed, first + 8_000 if first else None)
        check("deposit <= 1.40 x FT", n, _gas(rows, OURS, "deposit", n), 1.40 * floors["FT"])
        new = _gas(rows, OURS, "postAttribution, new member, batch of 500", n)
        check("postAttribution <= 25,000 per new member (batch of 500)", n, new, 25_000)
        changed = _gas(rows, OURS, "postAttribution, changed member, batch of 500", n)
        check("postAttribution <= 10,000 per changed member (batch of 500)", n, changed, 10_000)
    out += roots_targets(floors, rows, sizes)
    push_sizes = [n for n in sizes if _gas(rows, OURS, "deposit", n) is not None]
    if not push_sizes:
        return out
    smallest, largest = min(push_sizes), max(push_sizes)
    if largest != smallest:
        for operation in ("deposit", FIRST_CLAIM, LATER_CLAIM):
            base = _gas(rows, OURS, operation, smallest)
            check(
                f"{operation} at {largest:,} within 1% of {smallest:,} members",
                largest,
                _gas(rows, OURS, operation, largest),
                base * 1.01 if base else None,
            )
    return out


def roots_targets(
    floors: dict[str, int], rows: list[dict[str, Any]], sizes: list[int]
) -> list[dict[str, Any]]:
    """The root mode's targets (issue 15) at every member count it was measured at. A deposit is
    compared with the push union's at the same count, or at the largest count it was measured
    at (its deposit does not depend on the member count)."""
    out: list[dict[str, Any]] = []
    push_sizes = [n for n in sizes if _gas(rows, OURS, "deposit", n) is not None]
    for n in sizes:
        for which, operation in ROOTS_EPOCHS.items():
            figure = _gas(rows, ROOTS, operation, n)
            out += _one(f"an epoch ({which}) <= 150,000 gas", n, figure, 150_000)
        for label, operation in (
            ("member's first", ROOTS_FIRST_EVER),
            ("first under a root", ROOTS_FIRST),
        ):
            figure = _gas(rows, ROOTS, operation, n)
            out += _one(
                f"claim, {label}, fresh wallet <= 1.80 x F0", n, figure, 1.80 * floors["F0"]
            )
        figure = _gas(rows, ROOTS, ROOTS_LATER, n)
        out += _one("claim, later under the same root <= 1.70 x F1", n, figure, 1.70 * floors["F1"])
        source = n if n in push_sizes else (push_sizes[-1] if push_sizes else None)
        push = _gas(rows, OURS, "deposit", source) if source else None
        if push is not None:
            figure = _gas(rows, ROOTS, "deposit", n)
            out += _one(
                f"deposit within +-2% of DataUnion's (at {source:,} members)",
                n,
                figure,
                1.02 * push,
                0.98 * push,
            )
    return out


def _one(
    name: str, members: int, figure: float | None, limit: float, low: float = 0
) -> list[dict[str, Any]]:
    if figure is None:
        return []
    row: dict[str, Any] = {"target": name, "members": members, "limit": round(limit)}
    if low:
        row["low"] = round(low)
    return [{**row, "gas": figure, "met": low <= figure <= limit}]


def _cell(row: dict[str, Any] | None, floors: dict[str, int]) -> str:
    if row is None:
        return "n/a"
    gas = row["gas"]
    text = f"{gas:,.1f}" if gas != int(gas) else f"{int(gas):,}"
    if row["floor"]:
        text += f" (x{gas / floors[row['floor']]:.2f})"
    return text


def markdown(
    environment: dict[str, Any],
    floors: dict[str, int],
    rows: list[dict[str, Any]],
    notes: list[str],
    sizes: list[int],
) -> str:
    lines = ["# Gas: DataUnion against the payout contracts people would otherwise use", ""]
    lines += ["Generated by `make bench-gas` (bench/gas.py); do not edit by hand.", ""]
    lines += [f"- {key}: {value}" for key, value in environment.items()]
    lines += [
        "",
        "## Floor (the same token, same run)",
        "",
        "| floor | what | gas |",
        "|---|---|---:|",
    ]
    lines += [f"| {key} | {FLOOR_NAMES[key]} | {gas:,} |" for key, gas in floors.items()]
    lines += ["", "## Gas per operation, by member count", ""]
    lines += [
        "Ratios in brackets are to the floor named in the last column (gas used, refunds applied).",
        "",
    ]
    lines += [
        "| design | operation | "
        + " | ".join(f"{n:,} members" for n in sizes)
        + " | floor | note |"
    ]
    lines += ["|---|---|" + "---:|" * len(sizes) + "---|---|"]
    seen: list[tuple[str, str]] = []
    for row in rows:
        key = (row["design"], row["operation"])
        if key in seen:
            continue
        seen.append(key)
        by_size = {r["members"]: r for r in rows if (r["design"], r["operation"]) == key}
        cells = [_cell(by_size.get(n), floors) for n in sizes]
        note = "; ".join(dict.fromkeys(r["note"] for r in by_size.values() if r["note"]))
        lines.append(
            f"| {key[0]} | {key[1]} | " + " | ".join(cells) + f" | {row['floor'] or ''} | {note} |"
        )
    all_targets = targets(floors, rows, sizes)
    roots = roots_targets(floors, rows, sizes)
    for title, chosen in (
        ("Targets (issue 7)", [t for t in all_targets if t not in roots]),
        ("Targets of the root mode (issue 15)", roots),
    ):
        if not chosen:
            continue
        lines += ["", f"## {title}, each against figures of this run", ""]
        lines += ["| target | members | limit | measured | met |", "|---|---:|---:|---:|---|"]
        for t in chosen:
            met = "yes" if t["met"] else "**no**"
            limit = f"{t['low']:,} - {t['limit']:,}" if "low" in t else f"{t['limit']:,}"
            lines.append(
                f"| {t['target']} | {t['members']:,} | {limit} | {t['gas']:,.1f} | {met} |"
            )
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def plot(path: Path, floors: dict[str, int], rows: list[dict[str, Any]]) -> None:
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    for design, operation, label, colour, style in PLOTTED:
        points = sorted(
            (r["members"], r["gas"])
            for r in rows
            if (r["design"], r["operation"]) == (design, operation)
        )
        if points:
            ax.plot(*zip(*points, strict=True), style, marker="o", color=colour, label=label)
    for key, style in (("F0", ":"), ("F1", "-.")):
        ax.axhline(
            floors[key], color="grey", linestyle=style, label=f"floor {key}: {FLOOR_NAMES[key]}"
        )
    ax.set_xscale("log")
    ax.set_xlabel("members (leaves, payees)")
    ax.set_ylabel("gas per claim (one transaction)")
    ax.set_title("Gas per claim vs member count (same token, same anvil run)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_results(
    out: Path,
    environment: dict[str, Any],
    floors: dict[str, int],
    rows: list[dict[str, Any]],
    notes: list[str],
    sizes: list[int],
) -> str:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": environment,
        "floors": floors,
        "rows": rows,
        "targets": targets(floors, rows, sizes),
        "notes": notes,
    }
    (out / "gas.json").write_text(json.dumps(data, indent=2) + "\n")
    table = markdown(environment, floors, rows, notes, sizes)
    (out / "gas.md").write_text(table)
    plot(out / "gas-claim-vs-members.png", floors, rows)
    return table
