"""`relayer watch` on a root-mode union (DataUnionRoots), run as an outsider runs it: its own
process, an RPC URL, the union's address, report files and the guardian's key. Honest roots,
built on the root in force with members leaving before and during the wait, are left alone (and
finished); a root whose report, tree, posted root or posted total is wrong is vetoed with an
alarm, a total below the leaves' sum as the critical problem it is."""

import json
from functools import partial

import brownie
import pytest
from brownie import chain
from test_watcher import status, watch
from web3 import Web3

from fixtures.accounts import local_account
from fixtures.api import contribution
from fixtures.epochs import finish_when_due
from fixtures.root_reports import leaves_of, restate, roots_report
from fixtures.roots import EMPTY_LEAF, deploy_roots_union
from fixtures.union import grant_delayed_role, pay, wait_until
from relayer.attribution import canonical, report_hash
from relayer.chain import UnionChain
from relayer.merkle import Tree
from relayer.watch_io import ReportSource
from relayer.watcher import Watcher

GUARDIAN_ROLE = Web3.keccak(text="GUARDIAN_ROLE")
item = partial(contribution, salt="roots watcher test ")
REVENUE = 10_000_000


@pytest.fixture(scope="module")
def union(stablecoin, admin, attester, pauser, guardian, fee_recipient):
    return deploy_roots_union(stablecoin, admin, attester, pauser, guardian, fee_recipient)


@pytest.fixture(scope="module")
def watch_guardian(union, admin):
    account = local_account("roots watcher guardian")
    admin.transfer(account, "1 ether")
    grant_delayed_role(union, GUARDIAN_ROLE, account, admin)
    return account


@pytest.fixture(scope="session")
def dave():
    return local_account("dave")


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


def state(union):
    return [int(v) for v in union.attributionState()]


def build(union, epoch, records, previous=None, departed=(), honest_departures=True):
    """The epoch's honest report on the root in force (`previous` its report)."""
    return roots_report(
        chain_id=chain.id,
        union=union.address,
        epoch=epoch,
        records={m.address: n for m, n in records.items()},
        previous=previous,
        previous_start=int(union.activeRoot()[2]),
        departed={m.address.lower() for m in departed} if honest_departures else (),
    )


def publish(union, attester, reports, report, *, root=None, total=None):
    """Write the report where the watcher reads it and post its root (or `root`, `total`)."""
    raw = canonical(report)
    (reports / f"epoch-{report['epoch']}.json").write_bytes(raw)
    tree = report["tree"]
    union.postRoot(
        report["epoch"],
        root or tree["root"],
        report_hash(raw),
        int(tree["totalShares"]) if total is None else total,
        len(tree["leaves"]),
        {"from": attester},
    )


def finish(union, rando):
    epoch, _, due_at = state(union)
    wait_until(due_at)
    union.finishAttribution(epoch, {"from": rando})


def proof(report, member):
    tree = Tree(report["epoch"], leaves_of(report))
    index = tree.index_of(member.address)
    return tree.leaves[index].as_tuple(), ["0x" + p.hex() for p in tree.proof(index)]


@pytest.fixture
def first_root(union, attester, stablecoin, buyer, reports, alice, bob, carol, rando):
    """Epoch 1 in force (Alice, Bob, Carol), revenue split by it, and Bob gone for good."""
    report = build(union, 1, {alice: 300, bob: 100, carol: 200})
    publish(union, attester, reports, report)
    finish(union, rando)
    pay(stablecoin, union, buyer, REVENUE)
    union.leave(*proof(report, bob), EMPTY_LEAF, [], {"from": bob})
    return report


def test_honest_roots_are_left_alone_and_finished_once_due(
    union,
    attester,
    stablecoin,
    buyer,
    watch_guardian,
    first_root,
    reports,
    tmp_path,
    alice,
    bob,
    carol,
    dave,
    rando,
):
    second = build(union, 2, {alice: 500, carol: 200, dave: 50}, first_root, departed=[bob])
    assert bob.address not in [row[0] for row in second["tree"]["leaves"]]
    publish(union, attester, reports, second)

    early = watch(union, reports, tmp_path, "--finish", guardian=watch_guardian)

    assert early.returncode == 0, early.stderr
    assert "ALARM" not in early.stderr
    checked = status(tmp_path)
    assert (checked["kind"], checked["alarm"]) == ("roots", False)
    assert [(e["epoch"], e["result"]) for e in checked["epochs"]] == [(2, "ok")]
    wait_until(state(union)[2])
    assert watch(union, reports, tmp_path, "--finish", guardian=watch_guardian).returncode == 0
    assert int(union.activeRoot()[0]) == 2

    # Epoch 3 carries offsets the deposits since epoch 2 took effect made non-zero; Carol
    # leaves while it waits, which takes her pending shares off the chain's pending total.
    pay(stablecoin, union, buyer, REVENUE)
    third = build(union, 3, {alice: 500, carol: 300, dave: 50}, second)
    assert any(int(row[1]) != 0 for row in third["tree"]["leaves"])
    publish(union, attester, reports, third)
    union.leave(*proof(second, carol), *proof(third, carol), {"from": carol})
    assert int(union.pendingRoot()[1]) == int(third["tree"]["totalShares"]) - 300 * 10**7

    later = watch(union, reports, tmp_path, "--finish", guardian=watch_guardian)

    assert later.returncode == 0, later.stderr
    assert state(union)[:2] == [3, 1]  # still pending, not vetoed
    wait_until(state(union)[2])
    assert watch(union, reports, tmp_path, "--finish", guardian=watch_guardian).returncode == 0
    assert int(union.activeRoot()[0]) == 3


def tampered(kind, union, first_root, alice, bob, carol, dave):
    """Epoch 2's report and what is posted for it: (report, root, total)."""
    records = {alice: 500, carol: 200, dave: 50}
    report = build(union, 2, records, first_root, departed=[bob])
    total = int(report["tree"]["totalShares"])
    if kind == "posted total below the sum":
        return report, None, total - 1
    if kind == "report total below the sum":
        report["tree"]["totalShares"] = str(total - 1)
        return report, None, total - 1
    if kind == "posted root not the report's":
        return report, first_root["tree"]["root"], None
    if kind == "offset inflated":
        row = next(r for r in report["tree"]["leaves"] if r[0] == alice.address)
        row[1] = str(int(row[1]) + REVENUE * 2**64)
        return restate(report), None, None
    if kind == "leaf shares above the report's":
        row = next(r for r in report["tree"]["leaves"] if r[0] == dave.address)
        row[3] = str(int(row[3]) * 10)
        return restate(report), None, None
    if kind == "report other than the posted one":
        return report, None, None
    if kind == "member who left kept":
        report = build(union, 2, records, first_root, departed=[bob], honest_departures=False)
        return report, None, None
    raise AssertionError(kind)


CASES = {
    "posted total below the sum": ("posted_total_below_sum", "critical"),
    "report total below the sum": ("total_below_sum", "critical"),
    "posted root not the report's": ("posted_root_mismatch", "serious"),
    "offset inflated": ("carry_mismatch", "serious"),
    "leaf shares above the report's": ("leaf_shares_mismatch", "serious"),
    "member who left kept": ("departed_member", "serious"),
    "report other than the posted one": ("hash_mismatch", "serious"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_root_that_disagrees_with_its_report_or_the_chain_is_vetoed_with_an_alarm(
    union,
    attester,
    watch_guardian,
    first_root,
    reports,
    tmp_path,
    alice,
    bob,
    carol,
    dave,
    rando,
    kind,
):
    report, root, total = tampered(kind, union, first_root, alice, bob, carol, dave)
    publish(union, attester, reports, report, root=root, total=total)
    if kind == "report other than the posted one":  # one that verifies on its own
        other = build(union, 2, {alice: 501, carol: 200, dave: 50}, first_root, departed=[bob])
        (reports / "epoch-2.json").write_bytes(canonical(other))

    done = watch(union, reports, tmp_path, guardian=watch_guardian)

    assert done.returncode == 1, done.stderr
    expected, severity = CASES[kind]
    level = "CRITICAL" if severity == "critical" else "ERROR"
    alarms = [line for line in done.stderr.splitlines() if f" {level} " in line and "ALARM" in line]
    assert any(expected in line for line in alarms), done.stderr
    assert state(union)[:2] == [2, 2]  # vetoed
    (epoch,) = status(tmp_path)["epochs"]
    assert (epoch["result"], epoch["state"], epoch["severity"]) == ("mismatch", "vetoed", severity)
    assert epoch["problems"][0].startswith(expected) or severity == "serious"
    assert any(p.startswith(expected) for p in epoch["problems"])
    assert brownie.web3.eth.get_transaction_receipt(epoch["veto_tx"])["from"] == (
        watch_guardian.address
    )
    wait_until(state(union)[2])
    with brownie.reverts():
        union.finishAttribution(2, {"from": rando})
    assert int(union.activeRoot()[0]) == 1  # the root in force stays


def test_a_root_whose_previous_report_is_missing_is_vetoed_near_its_due_time(
    union, attester, watch_guardian, first_root, reports, tmp_path, alice, bob, carol, dave
):
    second = build(union, 2, {alice: 500, carol: 200, dave: 50}, first_root, departed=[bob])
    publish(union, attester, reports, second)
    (reports / "epoch-1.json").unlink()

    far = watch(union, reports, tmp_path, "--missing-grace", "3600", guardian=watch_guardian)

    assert far.returncode == 3, far.stderr  # waits: the mirror may still be syncing
    assert state(union)[:2] == [2, 1]
    wait_until(state(union)[2] - 599)
    near = watch(union, reports, tmp_path, "--missing-grace", "3600", guardian=watch_guardian)
    assert near.returncode == 1, near.stderr
    assert state(union)[:2] == [2, 2]
    assert "report_unavailable" in json.dumps(status(tmp_path)["epochs"])


def test_the_relayers_own_roots_pass_the_watcher(
    api,
    context,
    operator_headers,
    union,
    stablecoin,
    buyer,
    watch_guardian,
    reports,
    tmp_path,
    alice,
    bob,
    carol,
):
    """The relayer builds and posts each tree (relayer.root_tree); the watcher, given only its
    published reports, agrees with every one, across a deposit and a member who left."""

    def close_and_publish(*items):
        stored = api.post(
            "/v1/contributions", json={"contributions": list(items)}, headers=operator_headers
        )
        assert stored.status_code == 201, stored.text
        closed = api.post("/v1/epochs/close", headers=operator_headers)
        assert closed.status_code == 202, closed.text
        number = closed.json()["number"]
        raw = api.get(f"/v1/epochs/{number}/report").content
        (reports / f"epoch-{number}.json").write_bytes(raw)
        return number, json.loads(raw)

    number, first = close_and_publish(item(alice, "a", records=300), item(bob, "b"))
    assert state(union)[:2] == [number, 1]
    assert watch(union, reports, tmp_path, guardian=watch_guardian).returncode == 0
    finish_when_due(context, number)
    pay(stablecoin, union, buyer, REVENUE)
    union.leave(*proof(first, bob), EMPTY_LEAF, [], {"from": bob})

    number, second = close_and_publish(item(carol, "c", records=400))
    assert bob.address not in [row[0] for row in second["tree"]["leaves"]]
    done = watch(union, reports, tmp_path, guardian=watch_guardian)

    assert done.returncode == 0, done.stderr
    assert [(e["epoch"], e["result"]) for e in status(tmp_path)["epochs"]] == [(number, "ok")]
    assert state(union)[:2] == [number, 1]
    finish_when_due(context, number)
    pay(stablecoin, union, buyer, REVENUE)

    number, third = close_and_publish(item(alice, "a2", records=100))
    assert any(int(row[1]) != 0 for row in third["tree"]["leaves"])  # earnings carried over
    done = watch(union, reports, tmp_path, guardian=watch_guardian)

    assert done.returncode == 0, done.stderr
    assert state(union)[:2] == [number, 1]


def test_a_running_watcher_checks_the_next_root_on_the_tree_it_already_trusts(
    union, attester, stablecoin, buyer, first_root, reports, alice, bob, carol, dave, rando
):
    """A million-leaf report takes tens of seconds to fetch and parse: the one checked last is
    kept, so the next root is checked on it even when the source no longer serves it."""
    watcher = Watcher(
        UnionChain(brownie.web3, union.address),
        ReportSource(str(reports / "epoch-{epoch}.json")),
        from_block=0,
    )
    second = build(union, 2, {alice: 500, carol: 200, dave: 50}, first_root, departed=[bob])
    publish(union, attester, reports, second)
    assert [(v.epoch, v.result) for v in watcher.poll()] == [(1, "ok"), (2, "ok")]
    finish(union, rando)
    pay(stablecoin, union, buyer, REVENUE)
    third = build(union, 3, {alice: 500, carol: 300, dave: 50}, second)
    publish(union, attester, reports, third)
    (reports / "epoch-2.json").unlink()

    verdicts = watcher.poll()

    assert [(v.epoch, v.result, v.problems) for v in verdicts][-1] == (3, "ok", [])
