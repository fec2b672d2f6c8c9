"""The member page's attribution panel in headless chromium: a pending epoch with its countdown
to the due time (the chain's clock), a vetoed one, and the member's own check of an epoch — the
report fetched from the relayer, its keccak256 and the member's shares recomputed in the browser
and compared with the chain — which fails when the report was tampered with or the chain holds
other shares than the report gives."""

import re
import time

import httpx
import pytest
from brownie import accounts
from playwright.sync_api import expect
from sqlalchemy import update

from fixtures.api import contribution
from fixtures.union import post
from relayer.db import Epoch

DIGITS = re.compile(r"^\d+$")
INDEX_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def member():
    return accounts[6]


def connected(open_page, account, context):
    target = context.chain.head()
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while (context.indexer.cursor() or -1) < target:
        assert time.monotonic() < deadline, "the indexer did not catch up"
        time.sleep(0.05)
    view = open_page(account).connect()
    expect(view.page.locator("#claimable")).to_have_attribute("data-units", DIGITS)
    return view


def relayer_epoch(service, headers, member):
    """The relayer's own epoch 1, with the member in it, posted and pending."""
    body = {"contributions": [contribution(member, "page", salt="epoch page ", records=250)]}
    response = httpx.post(f"{service.url}/v1/contributions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    closed = httpx.post(f"{service.url}/v1/epochs/close", headers=headers, timeout=60)
    assert closed.status_code == 202, closed.text
    deadline = time.monotonic() + 30
    while httpx.get(f"{service.url}/v1/epochs/1").json()["status"] != "pending":
        assert time.monotonic() < deadline, "epoch 1 was not posted"
        time.sleep(0.1)


def test_a_pending_epoch_shows_its_due_time_and_a_countdown_on_the_chains_clock(
    open_page, web_context, union, attester, member
):
    post(union, attester, 1, {member: 1_000}, finish=False)
    _, _, due_at = union.attributionState()

    view = connected(open_page, member, web_context)

    state = view.page.locator("#epoch-state")
    expect(state).to_have_attribute("data-state", "pending")
    expect(state).to_have_attribute("data-due-at", str(due_at))
    expect(state).to_contain_text("Epoch 1 is pending")
    countdown = view.page.locator("#epoch-countdown")
    expect(countdown).to_be_visible()
    expect(countdown).to_contain_text("Takes effect in")
    left = int(countdown.get_attribute("data-seconds-left"))
    assert union.ATTRIBUTION_DELAY() - 60 < left <= union.ATTRIBUTION_DELAY()
    time.sleep(2.2)
    assert int(countdown.get_attribute("data-seconds-left")) < left  # it ticks
    view.shot("epoch-pending")
    assert view.errors == []


def test_a_vetoed_epoch_is_shown_as_vetoed_with_no_countdown(
    open_page, web_context, union, attester, guardian, member
):
    post(union, attester, 1, {member: 1_000}, finish=False)
    union.vetoAttribution(1, {"from": guardian})

    view = connected(open_page, member, web_context)

    state = view.page.locator("#epoch-state")
    expect(state).to_have_attribute("data-state", "vetoed")
    expect(state).to_contain_text("vetoed by the guardian")
    expect(view.page.locator("#epoch-countdown")).to_be_hidden()
    view.shot("epoch-vetoed")


def test_checking_an_honest_pending_epoch_in_the_browser_agrees_with_the_chain(
    open_page, web_context, relayer_service, operator_headers, union, member
):
    relayer_epoch(relayer_service, operator_headers, member)
    view = connected(open_page, member, web_context)

    view.page.get_by_role("button", name="Check this epoch").click()

    checks = view.page.locator("#epoch-checks")
    expect(checks).to_have_attribute("data-result", "agrees")
    expect(checks.locator('li[data-ok="true"]')).to_have_count(3)
    shares = union.sharesOf(member)
    expect(checks).to_contain_text(f"{shares} in the report, {shares} recomputed")
    expect(checks).to_contain_text("keccak256 is the one on-chain")
    view.shot("epoch-check-agrees")
    assert any(url.endswith("/v1/epochs/1/report") for url in view.requests)
    assert view.errors == []


def test_checking_a_tampered_report_fails_on_its_hash(
    open_page, web_context, relayer_service, operator_headers, member
):
    relayer_epoch(relayer_service, operator_headers, member)
    with web_context.db.session() as session:  # the relayer now serves other bytes
        report = session.get(Epoch, 1).report
        session.execute(
            update(Epoch).where(Epoch.number == 1).values(report=report.replace("250", "2500"))
        )
    view = connected(open_page, member, web_context)

    view.page.get_by_role("button", name="Check this epoch").click()

    checks = view.page.locator("#epoch-checks")
    expect(checks).to_have_attribute("data-result", "disagrees")
    expect(checks.locator('li[data-ok="false"]').first).to_contain_text("is not the one on-chain")
    expect(view.page.locator("#epoch-check [data-state]")).to_have_attribute("data-state", "failed")
    view.shot("epoch-check-tampered")


def test_checking_fails_when_the_chain_gives_the_member_other_shares_than_the_report(
    open_page, web_context, relayer_service, operator_headers, union, attester, member
):
    relayer_epoch(relayer_service, operator_headers, member)
    digest = union.currentReportHash()
    union.postAttribution(1, digest, [member], [union.sharesOf(member) + 1], {"from": attester})
    view = connected(open_page, member, web_context)

    view.page.get_by_role("button", name="Check this epoch").click()

    checks = view.page.locator("#epoch-checks")
    expect(checks).to_have_attribute("data-result", "disagrees")
    expect(checks.locator('li[data-ok="true"]').first).to_contain_text("one on-chain")
    expect(checks.locator('li[data-ok="false"]')).to_contain_text("on-chain")
