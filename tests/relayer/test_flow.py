"""The whole relayer flow on a real chain: contributions → epoch → on-chain shares → deposit →
claimable → gasless claim → statement, every figure checked against the chain."""

import json
from datetime import UTC, datetime

from brownie import chain
from eth_account import Account

from fixtures.api import contribution, index
from fixtures.epochs import finish_when_due
from fixtures.union import pay
from relayer.attribution import verify_report
from relayer.claims import claim_document
from relayer.schemas import ClaimIn

REVENUE = 1_000_000_000  # 1,000 tokens of 6 decimals
FEE = REVENUE * 500 // 10_000


def test_contributions_become_shares_revenue_and_a_gasless_claim(
    api, context, operator_headers, union, stablecoin, buyer, alice, bob
):
    batch = [
        contribution(alice, "a1", records=300),  # 3,000 units of value
        contribution(bob, "b1", data_type="browsing", records=1000),  # 1,000 units of value
    ]
    assert (
        api.post(
            "/v1/contributions", json={"contributions": batch}, headers=operator_headers
        ).status_code
        == 201
    )

    closed = api.post("/v1/epochs/close", headers=operator_headers)
    assert closed.status_code == 202, closed.text
    number = closed.json()["number"]
    assert api.get(f"/v1/epochs/{number}").json()["status"] == "pending"
    finish_when_due(context, number)
    epoch = api.get(f"/v1/epochs/{number}").json()
    assert epoch["status"] == "finished", epoch
    assert epoch["batches"] == epoch["batches_confirmed"] == 1

    report = api.get(f"/v1/epochs/{number}/report").content
    verified = verify_report(report)
    assert verified.report_hash == epoch["report_hash"]
    assert "0x" + union.currentReportHash().hex().removeprefix("0x") == epoch["report_hash"]
    assert union.sharesOf(alice) == verified.shares[alice.address] == 3_000_000_000
    assert union.sharesOf(bob) == verified.shares[bob.address] == 1_000_000_000
    assert union.totalShares() == int(json.loads(report)["totals"]["shares"])

    pay(stablecoin, union, buyer, REVENUE)
    alice_due = (REVENUE - FEE) * 3 // 4
    assert union.claimable(alice) == alice_due

    index(context)
    member = api.get(f"/v1/members/{alice.address}").json()
    assert int(member["claimable"]["units"]) == alice_due
    assert int(member["shares"]) == 3_000_000_000

    deadline = chain.time() + 3600
    claim = ClaimIn(
        member=alice.address,
        to=alice.address,
        amount=alice_due,
        deadline=deadline,
        signature="0x" + "00" * 65,
    )
    document = claim_document(chain.id, union.address, claim, union.nonces(alice))
    signature = Account.sign_typed_data(alice.private_key, full_message=document).signature
    before = stablecoin.balanceOf(alice)
    relayed = api.post(
        "/v1/claims", json={**claim.model_dump(), "signature": "0x" + signature.hex()}
    )
    assert relayed.status_code == 202, relayed.text
    receipt = chain.get_transaction(relayed.json()["tx_hash"])
    assert receipt.status == 1
    assert stablecoin.balanceOf(alice) - before == alice_due
    assert union.nonces(alice) == 1
    assert union.claimable(alice) == 0

    index(context)
    member = api.get(f"/v1/members/{alice.address}").json()
    assert int(member["claimed"]["units"]) == alice_due
    assert int(member["lifetime_earnings"]["units"]) == alice_due
    assert int(member["claimable"]["units"]) == 0
    year = datetime.fromtimestamp(chain[-1].timestamp, UTC).year
    statement = api.get(
        f"/v1/members/{alice.address}/statement", params={"year": year, "format": "csv"}
    )
    assert statement.status_code == 200
    assert statement.headers["content-type"].startswith("text/csv")
    lines = statement.text.strip().splitlines()
    assert len(lines) == 3  # header, earned, claimed
    assert relayed.json()["tx_hash"] in statement.text
