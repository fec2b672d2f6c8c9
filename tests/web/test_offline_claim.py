"""Claiming from a root-mode union with the relayer gone: the member page served as static files
(`relayer page`, no relayer running anywhere), in headless chromium with a test wallet on anvil.
The member picks the published report; the page rebuilds the tree, checks it against the chain
and claims or leaves from the wallet. Every figure is checked on-chain."""

import pytest
from brownie import accounts, chain
from playwright.sync_api import expect

from fixtures.published import publish, tampered
from fixtures.union import pay

TOKEN = 10**6  # the mock stablecoin has 6 decimals
REVENUE = 1_000 * TOKEN


@pytest.fixture(scope="module")
def member():
    """An anvil dev account, so that anvil signs for it behind the test wallet."""
    return accounts[6]


@pytest.fixture(scope="module")
def other_member():
    return accounts[7]


@pytest.fixture
def reports(book, stablecoin, roots_union, buyer, member, other_member, tmp_path):
    """Two finished roots with revenue after each: epoch 1's report is old, epoch 2's in force."""
    first = publish(book, {member: 3_000, other_member: 1_000}, tmp_path / "epoch-1-report.json")
    pay(stablecoin, roots_union, buyer, REVENUE)
    second = publish(book, {member: 1_000, other_member: 1_000}, tmp_path / "epoch-2-report.json")
    pay(stablecoin, roots_union, buyer, REVENUE)
    assert book.claimable(member) > 0
    return {1: first, 2: second}


def opened(open_static_page, account, *files, **options):
    view = open_static_page(account, **options)
    expect(view.page.locator("body")).to_have_attribute("data-offline", "true")
    view.page.set_input_files("#report-file", [str(f) for f in files])
    return view


def proof_state(view, state):
    line = view.page.locator("#proof-status [data-state]")
    expect(line).to_have_attribute("data-state", state)
    return line


def test_member_claims_everything_with_the_report_while_no_relayer_runs(
    open_static_page, static_page, roots_union, stablecoin, book, member, reports
):
    claimable = book.claimable(member)
    view = opened(open_static_page, member, reports[2])
    proof_state(view, "confirmed")
    expect(view.page.locator("#proof-status")).to_have_attribute("data-source", "report")
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(claimable))
    expect(view.page.locator("#shares")).to_have_attribute("data-units", "1000")
    before = stablecoin.balanceOf(member)
    view.page.get_by_role("button", name="Claim", exact=True).click()
    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "confirmed")
    tx = chain.get_transaction(status.locator("code.tx").inner_text())
    view.shot("offline-claim-confirmed")
    assert tx.sender == member.address
    assert tx.events["Claimed"]["amount"] == claimable
    assert stablecoin.balanceOf(member) - before == claimable
    assert roots_union.claimedBy(member) == claimable
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", "0")
    assert all(url.startswith(static_page) for url in view.requests)  # no relayer was asked
    assert view.errors == []


def test_partial_claim_with_the_report_pays_the_amount_typed(
    open_static_page, roots_union, stablecoin, book, member, reports
):
    view = opened(open_static_page, member, reports[2])
    proof_state(view, "confirmed")
    before = stablecoin.balanceOf(member)
    view.page.fill("#claim-amount", "12.5")
    view.page.get_by_role("button", name="Claim", exact=True).click()
    expect(view.page.locator("#claim-status [data-state]")).to_have_attribute(
        "data-state", "confirmed"
    )
    assert stablecoin.balanceOf(member) - before == 12_500_000
    assert roots_union.claimedBy(member) == 12_500_000


def test_a_report_of_an_older_epoch_is_refused_with_a_message(
    open_static_page, roots_union, book, member, reports
):
    view = opened(open_static_page, member, reports[1])
    line = proof_state(view, "failed")
    expect(line).to_contain_text("epoch 1's report")
    expect(line).to_contain_text("pick the report of epoch 2")
    view.shot("offline-old-report")
    view.page.get_by_role("button", name="Claim", exact=True).click()
    expect(view.page.locator("#claim-status [data-state]")).to_contain_text("pick the epoch's")
    assert roots_union.claimedBy(member) == 0


def test_a_report_whose_leaves_do_not_rebuild_its_root_is_refused(
    open_static_page, roots_union, member, reports, tmp_path
):
    forged = tampered(reports[2], tmp_path / "forged.json", member, 1_000_000)
    view = opened(open_static_page, member, forged)
    expect(view.page.locator("#proof-status [data-state]")).to_contain_text("was altered")
    assert roots_union.claimedBy(member) == 0


def test_member_leaves_with_both_reports_while_a_root_is_pending(
    open_static_page, roots_union, book, member, other_member, reports, tmp_path
):
    pending = publish(
        book, {member: 4_000, other_member: 1_000}, tmp_path / "epoch-3.json", finish=False
    )
    earned = book.claimable(member)
    _, pending_total = roots_union.pendingRoot()
    view = opened(open_static_page, member, reports[2])
    proof_state(view, "confirmed")
    view.page.get_by_role("button", name="Leave the union").click()
    view.page.get_by_role("button", name="Yes, leave the union").click()
    status = view.page.locator("#membership-status [data-state]")
    expect(status).to_contain_text("Epoch 3's root is pending")
    assert not roots_union.hasLeft(member)
    view.page.set_input_files("#report-file", [str(reports[2]), str(pending)])
    proof_state(view, "confirmed")
    view.page.get_by_role("button", name="Leave the union").click()
    view.page.get_by_role("button", name="Yes, leave the union").click()
    expect(status).to_have_attribute("data-state", "confirmed")
    assert roots_union.hasLeft(member)
    assert roots_union.pendingRoot()[1] == pending_total - 4_000
    assert roots_union.totalShares() == 1_000
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(earned))


def test_a_wallet_on_another_network_is_switched_to_the_reports_network(
    open_static_page, book, member, reports
):
    view = opened(open_static_page, member, reports[2], chain_id=1)
    proof_state(view, "confirmed")
    expect(view.page.locator("#claimable")).to_have_attribute(
        "data-units", str(book.claimable(member))
    )
    assert "wallet_switchEthereumChain" in view.wallet.methods()
    assert view.wallet.chain_id == chain.id
    expect(view.page.locator("#notices")).to_contain_text("check that it is your union's address")
    assert view.errors == []
