"""The watcher's verdict, on figures alone (relayer.epoch_check is pure): a report agrees with the
chain only if its bytes hash to the on-chain reportHash, its shares follow from its own weights,
every member holds exactly those shares and nobody outside it holds any."""

import json

from relayer.attribution import (
    DEFAULT_PARAMETERS,
    ContributionInput,
    build_report,
    canonical,
    report_hash,
)
from relayer.epoch_check import OnchainEpoch, ProblemKind, check

UNION = "0x" + "ab" * 20
ALICE = "0x" + "11" * 20
BOB = "0x" + "22" * 20
THIEF = "0x" + "99" * 20


def honest(epoch=3):
    report = build_report(
        chain_id=31337,
        union=UNION,
        epoch=epoch,
        contributions=[
            ContributionInput(ALICE, "health", 300, 1_000_000, 0),
            ContributionInput(BOB, "browsing", 1000, 500_000, 0),
        ],
        params=DEFAULT_PARAMETERS,
    )
    return canonical(report)


def onchain(raw, **overrides):
    shares = {m["address"]: int(m["shares"]) for m in json.loads(raw)["members"]}
    values = {
        "chain_id": 31337,
        "union": UNION,
        "epoch": 3,
        "report_hash": report_hash(raw),
        "total_shares": sum(shares.values()),
        "shares": shares,
    }
    values.update(overrides)
    return OnchainEpoch(**values)


def kinds(problems):
    return [p.kind for p in problems]


def test_an_honest_report_agrees_with_the_chain():
    raw = honest()
    assert check(raw, onchain(raw)) == []


def test_a_report_whose_bytes_differ_from_the_on_chain_hash_is_a_hash_mismatch():
    raw = honest()
    state = onchain(raw)
    tampered = raw.replace(b'"epoch":3', b'"epoch":3 ')
    assert kinds(check(tampered, state))[0] == ProblemKind.HASH_MISMATCH


def test_one_share_off_on_chain_is_a_shares_mismatch_naming_the_member():
    raw = honest()
    state = onchain(raw)
    shares = dict(state.shares)
    shares[next(iter(shares))] += 1
    problems = check(raw, onchain(raw, shares=shares, total_shares=state.total_shares + 1))
    assert kinds(problems) == [ProblemKind.SHARES_MISMATCH]
    assert "holds" in problems[0].detail


def test_shares_held_outside_the_report_are_caught_by_the_total():
    raw = honest()
    state = onchain(raw)
    problems = check(raw, onchain(raw, total_shares=state.total_shares + 99))
    assert kinds(problems) == [ProblemKind.SHARES_OUTSIDE_REPORT]
    assert "99 shares are held by addresses outside the report" in problems[0].detail


def test_a_report_whose_stated_shares_do_not_follow_from_its_weights_is_invalid():
    report = json.loads(honest())
    report["members"][0]["shares"] = str(int(report["members"][0]["shares"]) + 1)
    raw = canonical(report)
    problems = check(raw, onchain(raw))
    assert kinds(problems) == [ProblemKind.REPORT_INVALID]


def test_a_report_for_another_epoch_is_refused_even_with_the_right_hash():
    raw = honest(epoch=2)
    problems = check(raw, onchain(raw))
    assert kinds(problems) == [ProblemKind.WRONG_UNION]


def test_a_member_who_left_while_the_epoch_waits_counts_at_zero():
    raw = honest()
    state = onchain(raw)
    shares = dict(state.shares)
    left = next(iter(shares))
    total = state.total_shares - shares[left]
    shares[left] = 0
    assert kinds(check(raw, onchain(raw, shares=shares, total_shares=total))) == [
        ProblemKind.SHARES_MISMATCH
    ]
    assert check(raw, onchain(raw, shares=shares, total_shares=total, departed={left})) == []
