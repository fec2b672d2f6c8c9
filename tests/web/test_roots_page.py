"""The member page on a root-mode union (DataUnionRoots) served by the real relayer: the page
tells the kind from the chain, proves the member's leaf with the proof the relayer serves, and,
once the relayer is stopped, with the epoch's published report the member picks. Headless
chromium, a test wallet on anvil; every payout checked on-chain."""

import json
import time

import httpx
import pytest
from brownie import accounts, chain
from playwright.sync_api import expect
from sqlalchemy import update

from fixtures.api import contribution
from fixtures.roots import deploy_roots_union
from fixtures.union import pay, wait_until
from relayer.db import Epoch

TOKEN = 10**6
REVENUE = 1_000 * TOKEN
WAIT_S = 30


@pytest.fixture(scope="module")
def union(stablecoin, admin, attester, pauser, guardian, fee_recipient):
    """This module's union is a root-mode one (the relayer and the page follow the fixture)."""
    return deploy_roots_union(stablecoin, admin, attester, pauser, guardian, fee_recipient)


@pytest.fixture(scope="module")
def member():
    """An anvil dev account, so that anvil signs for it behind the test wallet."""
    return accounts[6]


@pytest.fixture(scope="module")
def other_member():
    return accounts[7]


def until(what, check):
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def relayer_root(service, headers, number, *contributions):
    """The relayer closes epoch `number` from `contributions` and posts its root: pending."""
    body = {"contributions": list(contributions)}
    response = httpx.post(f"{service.url}/v1/contributions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    closed = httpx.post(f"{service.url}/v1/epochs/close", headers=headers, timeout=60)
    assert closed.status_code == 202, closed.text
    until(f"epoch {number} was not posted", lambda: status(service, number) == "pending")


def status(service, number):
    return httpx.get(f"{service.url}/v1/epochs/{number}").json()["status"]


@pytest.fixture
def root_in_force(
    relayer_service, operator_headers, union, stablecoin, buyer, member, other_member
):
    """The relayer's epoch 1 (one root), finished by the relayer, then revenue; the report."""
    relayer_root(
        relayer_service,
        operator_headers,
        1,
        contribution(member, "roots page a", records=300),
        contribution(other_member, "roots page b", records=100),
    )
    wait_until(union.attributionState()[2])
    until("the relayer did not finish epoch 1", lambda: status(relayer_service, 1) == "finished")
    pay(stablecoin, union, buyer, REVENUE)
    return httpx.get(f"{relayer_service.url}/v1/epochs/1/report").content


def served_claim_args(service, member):
    body = httpx.get(f"{service.url}/v1/members/{member.address}/proof").json()
    leaf = body["leaf"]
    return (int(leaf["offset"]), int(leaf["previousShares"]), int(leaf["shares"])), body["proof"]


def connected(open_page, account):
    view = open_page(account).connect()
    expect(view.page.locator("#proof-panel")).to_be_visible()
    return view


def claim_everything(view):
    view.page.get_by_role("button", name="Claim", exact=True).click()
    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "confirmed")


def test_the_page_claims_with_the_leaf_and_proof_the_relayer_serves(
    open_page, relayer_service, union, stablecoin, member, root_in_force
):
    leaf, proof = served_claim_args(relayer_service, member)
    claimable = union.claimable(member, leaf, proof)
    assert claimable > 0
    view = connected(open_page, member)
    expect(view.page.locator("#proof-status")).to_have_attribute("data-source", "relayer")
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(claimable))
    expect(view.page.locator("#shares")).to_have_attribute("data-units", str(leaf[2]))
    before = stablecoin.balanceOf(member)
    claim_everything(view)
    view.shot("roots-claim-relayer-proof")
    assert stablecoin.balanceOf(member) - before == claimable
    assert union.claimedBy(member) == claimable
    assert view.errors == []


def test_with_the_relayer_stopped_the_member_claims_with_the_published_report(
    open_page, relayer_service, union, stablecoin, member, root_in_force, tmp_path
):
    report = tmp_path / "epoch-1-report.json"
    report.write_bytes(root_in_force)
    leaf, proof = served_claim_args(relayer_service, member)
    claimable = union.claimable(member, leaf, proof)
    view = connected(open_page, member)
    expect(view.page.locator("#proof-status")).to_have_attribute("data-source", "relayer")

    relayer_service.shutdown()
    view.page.get_by_role("button", name="Refresh").click()
    expect(view.page.locator("#proof-status [data-state]")).to_contain_text(
        "The relayer cannot be reached: pick epoch 1's published report"
    )
    view.page.set_input_files("#report-file", str(report))
    expect(view.page.locator("#proof-status")).to_have_attribute("data-source", "report")
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(claimable))
    before = stablecoin.balanceOf(member)
    claim_everything(view)
    view.shot("roots-claim-relayer-stopped")
    assert stablecoin.balanceOf(member) - before == claimable
    assert union.claimedBy(member) == claimable


def test_leaving_while_a_root_is_pending_takes_the_shares_out_of_both_totals(
    open_page, relayer_service, operator_headers, union, member, root_in_force
):
    relayer_root(
        relayer_service, operator_headers, 2, contribution(member, "roots page c", records=200)
    )
    _, pending_total = union.pendingRoot()
    pending_shares = int(
        httpx.get(f"{relayer_service.url}/v1/members/{member.address}/proof").json()["pending"][
            "leaf"
        ]["shares"]
    )
    assert pending_shares > 0
    leaf, _ = served_claim_args(relayer_service, member)
    total = union.totalShares()
    view = connected(open_page, member)
    expect(view.page.locator("#proof-status")).to_have_attribute("data-source", "relayer")
    view.page.get_by_role("button", name="Leave the union").click()
    view.page.get_by_role("button", name="Yes, leave the union").click()
    expect(view.page.locator("#membership-status [data-state]")).to_have_attribute(
        "data-state", "confirmed"
    )
    assert union.hasLeft(member)
    assert union.totalShares() == total - leaf[2]
    assert union.pendingRoot()[1] == pending_total - pending_shares


def test_checking_a_pending_root_rebuilds_its_tree_and_agrees_with_the_chain(
    open_page, relayer_service, operator_headers, union, member, root_in_force
):
    relayer_root(
        relayer_service, operator_headers, 2, contribution(member, "roots page d", records=200)
    )
    view = connected(open_page, member)

    view.page.get_by_role("button", name="Check this epoch").click()

    checks = view.page.locator("#epoch-checks")
    expect(checks).to_have_attribute("data-result", "agrees")
    expect(checks.locator('li[data-ok="true"]')).to_have_count(5)
    _, total = union.pendingRoot()
    expect(checks).to_contain_text("rebuild the root on-chain")
    expect(checks).to_contain_text(f"{total} on-chain")
    expect(checks).to_contain_text("in your leaf of the tree")
    view.shot("roots-epoch-check-agrees")
    assert view.errors == []


def test_checking_a_root_whose_report_was_altered_fails(
    open_page, relayer_service, web_context, union, member, root_in_force
):
    with web_context.db.session() as session:  # the relayer now serves other bytes
        row = session.get(Epoch, 1)
        report = json.loads(row.report)
        report["tree"]["leaves"][0][3] = str(int(report["tree"]["leaves"][0][3]) + 1)
        session.execute(update(Epoch).where(Epoch.number == 1).values(report=json.dumps(report)))
    view = connected(open_page, member)

    view.page.get_by_role("button", name="Check this epoch").click()

    checks = view.page.locator("#epoch-checks")
    expect(checks).to_have_attribute("data-result", "disagrees")
    expect(checks.locator('li[data-ok="false"]').first).to_contain_text("is not the one on-chain")
    expect(checks).to_contain_text("Its leaves rebuild root")


def test_a_gasless_claim_on_a_roots_union_is_signed_in_the_wallet_and_relayed_with_the_proof(
    open_page, relayer_service, relayer_account, union, stablecoin, member, root_in_force
):
    leaf, proof = served_claim_args(relayer_service, member)
    claimable = union.claimable(member, leaf, proof)
    view = connected(open_page, member)
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(claimable))
    before = stablecoin.balanceOf(member)

    view.page.get_by_role("button", name="Claim without gas").click()

    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "confirmed")
    tx = chain.get_transaction(status.locator("code.tx").inner_text())
    assert tx.sender == relayer_account.address
    assert stablecoin.balanceOf(member) - before == claimable
    assert union.claimedBy(member) == claimable
    assert "eth_sendTransaction" not in view.wallet.methods()
