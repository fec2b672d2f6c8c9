"""The relayer on a root-mode union (DataUnionRoots): closing an epoch posts one root built from
the report, whose `tree` section lists every leaf; members get their leaf and proof from the API
and claim with it; the next epoch's leaves carry what the earlier ones earned."""

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from brownie import web3
from sqlalchemy import event, func, select

from fixtures.api import assert_error, close, contribute, contribution, index
from fixtures.epochs import finish_when_due
from fixtures.roots import deploy_roots_union
from fixtures.union import MAX_UINT, pay, sign_claim
from relayer.db import OutboxTx
from relayer.merkle import Leaf, Tree, leaf_hash, verify
from relayer.root_tree import member_proofs

REVENUE = 10_000_000
NET = REVENUE * 95 // 100

item = partial(contribution, salt="roots relayer test ")


@pytest.fixture(scope="module")
def union(stablecoin, admin, attester, pauser, guardian, fee_recipient):
    return deploy_roots_union(stablecoin, admin, attester, pauser, guardian, fee_recipient)


def outbox_rows(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxTx))


def report_of(api, number):
    response = api.get(f"/v1/epochs/{number}/report")
    assert response.status_code == 200, response.text
    return response.json()


def proof_of(api, member):
    response = api.get(f"/v1/members/{member.address}/proof")
    assert response.status_code == 200, response.text
    body = response.json()
    leaf = body["leaf"]
    return (
        body,
        (int(leaf["offset"]), int(leaf["previousShares"]), int(leaf["shares"])),
        body["proof"],
    )


@pytest.fixture
def first_root(api, context, operator_headers, alice, bob):
    contribute(api, operator_headers, item(alice, "a", records=300), item(bob, "b"))
    epoch = close(api, operator_headers)
    assert epoch["status"] == "pending", epoch
    finish_when_due(context, 1)
    return epoch


def test_closing_posts_one_root_whose_report_lists_every_leaf(api, union, first_root, alice, bob):
    tree = report_of(api, 1)["tree"]
    assert [row[0] for row in tree["leaves"]] == sorted(
        [alice.address, bob.address], key=lambda a: int(a, 16)
    )
    leaves = [Leaf(m, int(o), int(p), int(s)) for m, o, p, s in tree["leaves"]]
    rebuilt = Tree(1, leaves)
    epoch, root, _ = union.activeRoot()
    assert (epoch, "0x" + rebuilt.root.hex(), tree["root"]) == (1, str(root), str(root))
    assert int(tree["totalShares"]) == union.totalShares() == sum(x.shares for x in leaves)


def test_a_member_claims_with_the_leaf_and_proof_the_api_serves(
    api, union, stablecoin, buyer, first_root, alice, bob
):
    pay(stablecoin, union, buyer, REVENUE)
    body, leaf, proof = proof_of(api, alice)
    assert (body["epoch"], body["pending"]) == (1, None)
    assert verify(
        [bytes.fromhex(p[2:]) for p in proof],
        bytes.fromhex(body["root"][2:]),
        leaf_hash(1, Leaf(alice.address, *leaf)),
    )
    expected = NET * 3 // 4  # 300 records against 100
    assert abs(union.claimable(alice, leaf, proof) - expected) <= 1
    summary = api.get(f"/v1/members/{alice.address}").json()
    assert int(summary["claimable"]["units"]) == union.claimable(alice, leaf, proof)
    assert summary["shares"] == str(leaf[2])

    paid = union.claim(alice, MAX_UINT, leaf, proof, {"from": alice}).return_value
    assert stablecoin.balanceOf(alice) == paid
    assert abs(paid - expected) <= 1


def test_the_next_root_carries_earnings_of_the_last_and_adds_new_members(
    api, context, operator_headers, union, stablecoin, buyer, first_root, alice, bob, carol
):
    pay(stablecoin, union, buyer, REVENUE)
    contribute(api, operator_headers, item(carol, "c", records=400))
    second = close(api, operator_headers)
    assert second["status"] == "pending"
    served, _, _ = proof_of(api, alice)
    assert (served["epoch"], served["pending"]["epoch"]) == (1, 2)
    assert served["pending"]["leaf"]["previousShares"] == served["leaf"]["shares"]
    # Still split by the root in force while the next one waits.
    pay(stablecoin, union, buyer, REVENUE)
    finish_when_due(context, 2)
    pay(stablecoin, union, buyer, REVENUE)

    tree = report_of(api, 2)["tree"]
    assert (tree["previousEpoch"], len(tree["leaves"])) == (1, 3)
    claimable = {}
    for member in (alice, bob, carol):
        body, leaf, proof = proof_of(api, member)
        assert body["epoch"] == 2
        claimable[member] = union.claimable(member, leaf, proof)
    # alice:bob 3:1 for two deposits, then alice:bob:carol 3:1:4 for the third.
    assert abs(claimable[alice] - (2 * NET * 3 // 4 + NET * 3 // 8)) <= 2
    assert abs(claimable[bob] - (2 * NET // 4 + NET // 8)) <= 2
    assert abs(claimable[carol] - NET // 2) <= 2


def test_a_proof_for_a_member_outside_the_root_is_not_found(api, first_root, carol):
    assert_error(api.get(f"/v1/members/{carol.address}/proof"), 404, "not_found")


def test_a_gasless_claim_is_relayed_with_the_leaf_and_proof_the_relayer_adds(
    api, union, stablecoin, buyer, first_root, alice
):
    pay(stablecoin, union, buyer, REVENUE)
    _, leaf, proof = proof_of(api, alice)
    amount = union.claimable(alice, leaf, proof)
    signature, deadline = sign_claim(union, alice, alice, amount)
    body = {
        "member": alice.address,
        "to": alice.address,
        "amount": amount,
        "deadline": deadline,
        "signature": "0x" + bytes(signature).hex(),
    }

    relayed = api.post("/v1/claims", json=body)

    assert relayed.status_code == 202, relayed.text
    assert web3.eth.get_transaction_receipt(relayed.json()["tx_hash"])["status"] == 1
    assert stablecoin.balanceOf(alice) == amount
    assert union.claimedBy(alice) == amount


def test_a_gasless_claim_of_a_member_without_a_leaf_is_not_found_and_sends_nothing(
    api, context, union, first_root, carol
):
    signature, deadline = sign_claim(union, carol, carol, 10**6)
    body = {
        "member": carol.address,
        "to": carol.address,
        "amount": 10**6,
        "deadline": deadline,
        "signature": "0x" + bytes(signature).hex(),
    }
    before = outbox_rows(context)
    assert_error(api.post("/v1/claims", json=body), 404, "not_found")
    assert outbox_rows(context) == before


def test_proof_reads_within_the_read_cache_age_ask_the_chain_once(
    api, context, monkeypatch, first_root, alice, bob
):
    monkeypatch.setattr(context.trees, "max_age", 60.0)
    asked = []
    view = context.chain.view
    monkeypatch.setattr(
        context.chain, "view", lambda name, *a, **kw: asked.append(name) or view(name, *a, **kw)
    )

    bodies = [proof_of(api, member)[0] for member in (alice, bob) * 10]

    assert sorted(asked) == ["activeRoot", "attributionState"]  # once, for all twenty reads
    assert {body["epoch"] for body in bodies} == {1}


def test_proof_reads_in_flight_when_the_roots_go_stale_ask_the_chain_once(
    api, context, monkeypatch, first_root, alice, bob
):
    monkeypatch.setattr(context.trees, "max_age", 60.0)
    proof_of(api, alice)  # the tree is built and the roots read
    context.trees._roots = None  # as when read_cache_seconds have passed
    asked = []
    view = context.chain.view

    def slow_view(name, *args, **kwargs):
        asked.append(name)
        time.sleep(0.05)  # a node under load: every reader arrives while the first one waits
        return view(name, *args, **kwargs)

    monkeypatch.setattr(context.chain, "view", slow_view)
    readers = [alice.address, bob.address] * 8
    with ThreadPoolExecutor(len(readers)) as pool:
        served = list(pool.map(partial(member_proofs, context.trees, context.chain), readers))

    assert sorted(asked) == ["activeRoot", "attributionState"]
    assert all(current is not None and current.epoch == 1 for current, _ in served)


def test_a_proof_read_from_a_tree_already_built_does_not_read_the_epochs_again(
    api, context, monkeypatch, first_root, alice, bob
):
    monkeypatch.setattr(context.trees, "max_age", 60.0)
    proof_of(api, alice)  # builds the tree from the stored report (~100 MB at 1M members)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(context.db.engine, "before_cursor_execute", record)
    try:
        for member in (alice, bob, alice):
            proof_of(api, member)
    finally:
        event.remove(context.db.engine, "before_cursor_execute", record)

    assert not [s for s in statements if "FROM epochs" in s]


def test_history_and_statement_follow_the_roots_the_member_was_in(
    api, context, operator_headers, union, stablecoin, buyer, first_root, alice, bob
):
    pay(stablecoin, union, buyer, REVENUE)
    _, leaf, proof = proof_of(api, alice)
    union.claim(alice, MAX_UINT, leaf, proof, {"from": alice})
    index(context)

    summary = api.get(f"/v1/members/{alice.address}").json()

    (epoch,) = summary["history"]
    assert (epoch["epoch"], epoch["shares"]) == (1, str(leaf[2]))
    assert abs(int(epoch["earned"]["units"]) - NET * 3 // 4) <= 1
    assert int(summary["claimed"]["units"]) == stablecoin.balanceOf(alice)
    year = web3.eth.get_block("latest")["timestamp"] // (365 * 24 * 3600) + 1970
    statement = api.get(f"/v1/members/{alice.address}/statement?year={year}&format=json").json()
    kinds = [row["kind"] for row in statement["rows"]]
    assert kinds == ["earned", "claimed"]


def test_a_member_who_left_is_dropped_from_the_next_tree_and_keeps_what_they_earned(
    api, context, operator_headers, union, stablecoin, buyer, first_root, alice, bob
):
    pay(stablecoin, union, buyer, REVENUE)
    _, leaf, proof = proof_of(api, bob)
    union.leave(leaf, proof, (0, 0, 0), [], {"from": bob})
    frozen = union.claimable(bob, (0, 0, 0), [])
    pay(stablecoin, union, buyer, REVENUE)  # all to alice now
    contribute(api, operator_headers, item(bob, "b again"))  # leaving is for good
    close(api, operator_headers)
    finish_when_due(context, 2)

    tree = report_of(api, 2)["tree"]
    assert [row[0] for row in tree["leaves"]] == [alice.address]
    assert union.claimable(bob, (0, 0, 0), []) == frozen
    summary = api.get(f"/v1/members/{bob.address}").json()
    assert (summary["shares"], int(summary["claimable"]["units"])) == ("0", frozen)


def test_license_deposits_and_the_estimate_follow_the_root_in_force(
    api, context, operator_headers, union, stablecoin, buyer, first_root
):
    offer = {"id": "roots-001", "title": "Roots", "terms_hash": "0x" + "ab" * 32, "price": 5}
    assert api.post("/v1/licenses", json=offer, headers=operator_headers).status_code == 201
    license_id = api.get("/v1/licenses/roots-001").json()["license_id"]
    paid = pay(stablecoin, union, buyer, REVENUE, bytes.fromhex(license_id[2:]))
    index(context)

    deposits = api.get("/v1/licenses/roots-001").json()["deposits"]
    assert [(d["tx_hash"], d["epoch"]) for d in deposits] == [(paid.txid, 1)]
    query = {"data_type": "health", "records_per_month": 100, "quality": "1", "uniqueness": "0"}
    estimate = api.get("/v1/estimate", params=query).json()
    assert estimate["basis"]["total_shares"] == str(union.totalShares())
    assert int(estimate["monthly_earnings"]["units"]) > 0
