"""The member page in headless chromium, against the real relayer (served over HTTP with its
indexer and claim loop) and the real contract on anvil. Each test clicks through what a person
does and checks the outcome on-chain; screenshots land in test-output/browser/."""

import re
import time
from datetime import UTC, datetime

import httpx
import pytest
from brownie import accounts, chain, web3
from eth_utils import keccak
from playwright.sync_api import expect
from sqlalchemy import func, select

from fixtures.api import contribution
from fixtures.browser import PHONE
from fixtures.union import pay, post
from relayer.db import Contribution, OutboxTx
from relayer.licenses import license_hash

TOKEN = 10**6  # the mock stablecoin has 6 decimals
REVENUE = 1_000 * TOKEN
LICENSE_PRICE = 250 * TOKEN
INDEX_TIMEOUT_S = 20
DIGITS = re.compile(r"^\d+$")


@pytest.fixture(scope="module")
def member():
    """An anvil dev account, so that anvil signs for it behind the test wallet."""
    return accounts[6]


@pytest.fixture(scope="module")
def other_member():
    return accounts[7]


@pytest.fixture
def earnings(union, stablecoin, attester, buyer, member, other_member):
    """Two posted epochs with revenue after each: the member has a history and claimable money."""
    post(union, attester, 1, {member: 3_000, other_member: 1_000})
    pay(stablecoin, union, buyer, REVENUE)
    post(union, attester, 2, {member: 1_000, other_member: 1_000})
    pay(stablecoin, union, buyer, REVENUE)
    claimable = union.claimable(member)
    assert claimable > 0
    return claimable


def wait_indexed(context):
    """Wait until the relayer's indexer has stored every block mined so far."""
    target = chain.height
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while (context.indexer.cursor() or -1) < target:
        assert time.monotonic() < deadline, f"the indexer did not reach block {target}"
        time.sleep(0.05)


def connected(open_page, account, context, **options):
    """The page opened with a wallet holding `account`, connected, figures shown."""
    wait_indexed(context)
    member_page = open_page(account, **options).connect()
    expect(member_page.page.locator("#claimable")).to_have_attribute("data-units", DIGITS)
    return member_page


def confirmed_tx(page, box):
    """The transaction hash of the confirmed status in `box` (waiting for it)."""
    state = page.locator(f"#{box} [data-state]")
    expect(state).to_have_attribute("data-state", "confirmed")
    return state.locator("code.tx").inner_text()


def create_license(service, operator_headers, license_id):
    offer = {
        "id": license_id,
        "title": f"Health records ({license_id})",
        "terms_hash": "0x" + keccak(text=license_id).hex(),
        "price": LICENSE_PRICE,
    }
    response = httpx.post(f"{service.url}/v1/licenses", json=offer, headers=operator_headers)
    assert response.status_code == 201, response.text


def test_member_sees_shares_earnings_and_a_chart_of_earnings_per_epoch(
    open_page, web_context, union, member, earnings
):
    view = connected(open_page, member, web_context)
    page = view.page
    expect(page.locator("#claimable")).to_have_attribute("data-units", str(earnings))
    expect(page.locator("#shares")).to_have_attribute("data-units", str(union.sharesOf(member)))
    expect(page.locator("#share-of-union")).to_have_text("50%")
    expect(page.locator("#claimed")).to_have_attribute("data-units", "0")
    expect(page.locator("#lifetime")).to_have_attribute("data-units", str(earnings))
    expect(page.locator("#chart canvas")).to_be_visible()
    expect(page.locator("#chart")).to_have_attribute("data-bars", "2")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    view.shot("member-earnings")
    assert view.errors == []  # no script error, no Content-Security-Policy violation


def test_claim_pays_everything_claimable_from_the_wallet(
    open_page, web_context, union, stablecoin, member, earnings
):
    view = connected(open_page, member, web_context)
    before = stablecoin.balanceOf(member)
    view.page.get_by_role("button", name="Claim", exact=True).click()
    tx_hash = confirmed_tx(view.page, "claim-status")
    view.shot("claim-confirmed")
    assert stablecoin.balanceOf(member) - before == earnings
    assert union.claimable(member) == 0
    tx = chain.get_transaction(tx_hash)
    assert tx.sender == member.address
    assert tx.events["Claimed"]["amount"] == earnings
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", "0")


def test_partial_claim_pays_the_amount_typed_and_leaves_the_rest(
    open_page, web_context, union, stablecoin, member, earnings
):
    view = connected(open_page, member, web_context)
    before = stablecoin.balanceOf(member)
    view.page.get_by_label("Amount to claim").fill("100.5")
    view.page.get_by_role("button", name="Claim", exact=True).click()
    confirmed_tx(view.page, "claim-status")
    assert stablecoin.balanceOf(member) - before == 100_500_000
    assert union.claimable(member) == earnings - 100_500_000


def test_gasless_claim_is_signed_in_the_wallet_and_submitted_by_the_relayer(
    open_page, web_context, union, stablecoin, member, relayer_account, earnings
):
    view = connected(open_page, member, web_context)
    before = stablecoin.balanceOf(member)
    assert union.nonces(member) == 0
    view.page.get_by_role("button", name="Claim without gas").click()
    tx_hash = confirmed_tx(view.page, "claim-status")
    view.shot("gasless-claim-confirmed")
    assert stablecoin.balanceOf(member) - before == earnings
    assert union.nonces(member) == 1
    assert chain.get_transaction(tx_hash).sender == relayer_account.address
    assert "eth_signTypedData_v4" in view.wallet.methods()
    assert "eth_sendTransaction" not in view.wallet.methods()


def test_gasless_claim_policy_is_shown_and_a_claim_below_its_minimum_is_not_signed(
    open_page, web_context, union, member, earnings
):
    view = connected(open_page, member, web_context)
    policy = view.page.locator("#gasless-policy")
    expect(policy).to_contain_text("at least 0.01 mUSD")
    expect(policy).to_contain_text("up to 10 a day")
    view.page.get_by_label("Amount to claim").fill("0.005")
    view.page.get_by_role("button", name="Claim without gas").click()
    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("at least 0.01 mUSD")
    view.shot("gasless-claim-below-minimum")
    assert "eth_signTypedData_v4" not in view.wallet.methods()
    assert union.nonces(member) == 0


def test_rejected_signature_shows_a_message_and_sends_nothing(
    open_page, web_context, union, stablecoin, member, earnings
):
    view = connected(open_page, member, web_context)
    before = stablecoin.balanceOf(member)
    view.wallet.reject_next("eth_signTypedData_v4")
    view.page.get_by_role("button", name="Claim without gas").click()
    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("You rejected the request in your wallet")
    view.shot("claim-rejected")
    assert union.nonces(member) == 0
    assert stablecoin.balanceOf(member) == before
    assert union.claimable(member) == earnings
    assert not any(url.endswith("/v1/claims") for url in view.requests)
    with web_context.db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxTx)) == 0


def test_nothing_to_claim_is_said_and_nothing_is_sent(
    open_page, web_context, union, attester, member
):
    post(union, attester, 1, {member: 1_000})  # shares, but no revenue yet
    view = connected(open_page, member, web_context)
    view.page.get_by_role("button", name="Claim", exact=True).click()
    status = view.page.locator("#claim-status [data-state]")
    expect(status).to_have_attribute("data-state", "info")
    expect(status).to_have_text("Nothing to claim yet: your claimable balance is 0.")
    assert "eth_sendTransaction" not in view.wallet.methods()


@pytest.mark.parametrize("method", ["permit", "approve"])
def test_buyer_pays_a_license_and_the_revenue_appears(
    open_page, web_context, relayer_service, operator_headers, union, stablecoin, buyer, method
):
    create_license(relayer_service, operator_headers, "health-2026")
    stablecoin.mint(buyer, LICENSE_PRICE, {"from": buyer})
    deposited = union.totalDeposited()
    view = open_page(buyer)
    view.page.get_by_label("Payment method").select_option(method)
    view.page.get_by_role("button", name="Pay license Health records (health-2026)").click()
    tx_hash = confirmed_tx(view.page, "buyer-status")
    expect(view.page.locator("#license-recorded")).to_have_attribute(
        "data-total-paid", str(LICENSE_PRICE)
    )
    expect(view.page.locator("#receipt")).to_contain_text(tx_hash)
    view.shot(f"license-paid-{method}")
    assert union.totalDeposited() - deposited == LICENSE_PRICE
    event = chain.get_transaction(tx_hash).events["RevenueDeposited"]
    assert event["licenseId"] == license_hash("health-2026")
    assert event["amount"] == LICENSE_PRICE
    signed = "eth_signTypedData_v4" in view.wallet.methods()
    sent = view.wallet.methods().count("eth_sendTransaction")
    assert (signed, sent) == ((True, 1) if method == "permit" else (False, 2))


def test_wrong_network_prompts_a_switch_through_the_wallet(open_page, web_context, member):
    view = open_page(member, chain_id=1)
    view.connect()
    prompt = view.page.locator("#switch-chain")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text(f"this union is on network {chain.id}")
    expect(view.page.locator("#member")).to_be_hidden()
    view.shot("wrong-network")
    view.page.get_by_role("button", name="Switch network").click()
    expect(view.page.locator("#member")).to_be_visible()
    expect(prompt).to_be_hidden()
    assert ("wallet_switchEthereumChain", [{"chainId": hex(chain.id)}]) in view.wallet.calls


def test_wallet_that_does_not_know_the_network_is_offered_to_add_it(open_page, member):
    view = open_page(member, chain_id=1, known_chains={1})
    view.connect()
    view.page.get_by_role("button", name="Switch network").click()
    expect(view.page.locator("#member")).to_be_visible()
    added = [params for method, params in view.wallet.calls if method == "wallet_addEthereumChain"]
    assert added == [
        [
            {
                "chainId": hex(chain.id),
                "chainName": "Data union test chain",
                "rpcUrls": [web3.provider.endpoint_uri],
                "nativeCurrency": {"name": "ETH", "symbol": "ETH", "decimals": 18},
            }
        ]
    ]
    assert view.wallet.chain_id == chain.id


def test_page_without_a_wallet_says_how_to_get_one(open_page):
    view = open_page(None)
    view.page.get_by_role("button", name="Connect wallet").click()
    expect(view.page.locator("#notices")).to_contain_text("No wallet found")
    expect(view.page.locator("#member")).to_be_hidden()
    view.shot("no-wallet")


def test_estimator_shows_the_relayers_estimate(
    open_page, web_context, relayer_service, member, earnings
):
    wait_indexed(web_context)
    view = open_page(None)
    page = view.page
    page.get_by_label("Data type").select_option("health")
    page.get_by_label("Records per month").fill("500")
    page.get_by_label("Quality (0 to 1)").fill("0.9")
    page.get_by_role("button", name="Estimate").click()
    expected = httpx.get(
        f"{relayer_service.url}/v1/estimate",
        params={"data_type": "health", "records_per_month": 500, "quality": "0.9"},
    ).json()
    whole = int(expected["monthly_earnings"]["units"]) // TOKEN
    result = page.locator("#estimate-result")
    expect(result).to_contain_text(f"About {whole:,}.")
    expect(result).to_contain_text("not a promise of income")
    view.shot("estimate")


def test_direct_claim_still_works_when_the_relayer_is_unreachable(
    open_page, web_context, relayer_service, union, stablecoin, member, earnings
):
    wait_indexed(web_context)
    view = open_page(member)
    relayer_service.shutdown()
    view.connect()
    expect(view.page.locator("#notices")).to_contain_text("The relayer cannot be reached")
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", str(earnings))
    before = stablecoin.balanceOf(member)
    view.page.get_by_role("button", name="Claim", exact=True).click()
    confirmed_tx(view.page, "claim-status")
    view.shot("relayer-unreachable-claim")
    assert stablecoin.balanceOf(member) - before == earnings


def test_statement_downloads_as_csv_with_the_members_claim(
    open_page, web_context, union, member, earnings
):
    claim = union.claim(member, earnings, {"from": member})
    view = connected(open_page, member, web_context)
    year = datetime.fromtimestamp(chain[-1].timestamp, UTC).year
    view.page.get_by_label("Statement year").fill(str(year))
    with view.page.expect_download() as download:
        view.page.get_by_role("button", name="Download statement (CSV)").click()
    assert download.value.suggested_filename == f"statement-{member.address}-{year}.csv"
    lines = download.value.path().read_text().strip().splitlines()
    assert lines[0] == "date_time_utc,kind,amount,tx_hash"
    assert any(line.endswith(claim.txid) and ",claimed," in line for line in lines)


def test_leave_sets_shares_to_zero_and_keeps_earnings_claimable(
    open_page, web_context, union, member, earnings
):
    view = connected(open_page, member, web_context)
    view.page.get_by_role("button", name="Leave the union").click()
    view.page.get_by_role("button", name="Yes, leave the union").click()
    confirmed_tx(view.page, "membership-status")
    assert union.sharesOf(member) == 0
    assert union.claimable(member) == earnings
    expect(view.page.locator("#shares")).to_have_attribute("data-units", "0")


def test_deletion_request_is_signed_by_the_member_and_deletes_their_records(
    open_page, web_context, relayer_service, operator_headers, member
):
    batch = {"contributions": [contribution(member, "d1"), contribution(member, "d2")]}
    created = httpx.post(
        f"{relayer_service.url}/v1/contributions", json=batch, headers=operator_headers
    )
    assert created.status_code == 201, created.text
    view = connected(open_page, member, web_context)
    view.page.get_by_role("button", name="Request deletion of my off-chain data").click()
    status = view.page.locator("#membership-status [data-state]")
    expect(status).to_have_attribute("data-state", "confirmed")
    expect(status).to_contain_text("Deleted 2 contribution records")
    with web_context.db.session() as session:
        remaining = select(func.count()).where(Contribution.member == member.address)
        assert session.scalar(remaining) == 0


def test_claim_can_be_reached_and_activated_with_the_keyboard(
    open_page, web_context, stablecoin, member, earnings
):
    view = connected(open_page, member, web_context)
    page = view.page
    before = stablecoin.balanceOf(member)
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "claim":
            break
    assert page.evaluate("document.activeElement.id") == "claim"
    page.keyboard.press("Enter")
    confirmed_tx(page, "claim-status")
    assert stablecoin.balanceOf(member) - before == earnings


def test_page_fits_a_phone_screen(open_page, web_context, member, earnings):
    view = connected(open_page, member, web_context, viewport=PHONE)
    expect(view.page.locator("#chart canvas")).to_be_visible()
    view.shot("phone-390x844")
    assert view.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = view.page.locator("#chart canvas").bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]
