"""GET /v1/members/{address} and its yearly statement: live figures equal the chain's, history
and statement rows follow the indexed events, and bad input gets the one error shape."""

import csv
import io
from datetime import UTC, datetime

from brownie import chain
from eth_utils import to_checksum_address

from fixtures.api import index
from fixtures.union import finish_when_due, pay, post

AMOUNT = 1_000_000  # 1 token of 6 decimals; the 5% fee leaves 950_000 for the members


def member(api, account):
    response = api.get(f"/v1/members/{account.address}")
    assert response.status_code == 200, response.text
    return response.json()


def utc(tx):
    return datetime.fromtimestamp(tx.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_summary_figures_equal_the_chain_and_the_indexed_claims(
    api, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 300, bob: 100})
    pay(stablecoin, union, buyer, AMOUNT)
    union.claim(alice, 500_000, {"from": alice})
    pay(stablecoin, union, buyer, 2 * AMOUNT)
    index(context)

    body = member(api, alice)

    claimable = union.claimable(alice)
    assert claimable == 712_500 - 500_000 + 1_425_000
    assert body["address"] == alice.address
    assert (body["shares"], body["total_shares"], body["share_of_union"]) == ("300", "400", "0.75")
    assert body["claimable"] == {"units": str(claimable), "formatted": "1.637500"}
    assert body["claimed"] == {"units": "500000", "formatted": "0.500000"}
    assert body["lifetime_earnings"] == {"units": "2137500", "formatted": "2.137500"}
    assert body["left"] is False
    assert body["token_decimals"] == 6
    assert body["indexed_block"] == chain.height
    assert [(h["epoch"], h["shares"], h["total_shares"]) for h in body["history"]] == [
        (1, "300", "400")
    ]
    assert body["history"][0]["earned"]["units"] == "2137500"
    assert "estimate" in body["note"]


def test_history_credits_each_epoch_with_what_its_shares_earned(
    api, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, AMOUNT)  # alice: 950_000 x 100/200
    post(union, attester, 2, {alice: 300})  # bob keeps 100: total 400
    pay(stablecoin, union, buyer, 2 * AMOUNT)  # alice: 1_900_000 x 300/400
    index(context)

    history = member(api, alice)["history"]

    assert [
        (h["epoch"], h["shares"], h["total_shares"], h["earned"]["units"]) for h in history
    ] == [
        (1, "100", "200", "475000"),
        (2, "300", "400", "1425000"),
    ]
    assert sum(int(h["earned"]["units"]) for h in history) == union.claimable(alice)


def test_history_books_an_epoch_whose_shares_were_carried_over_unchanged(
    api, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, AMOUNT)  # bob: 950_000 x 100/200
    post(union, attester, 2, {alice: 300})  # bob is not re-posted: his 100 carry over
    pay(stablecoin, union, buyer, 2 * AMOUNT)  # bob: 1_900_000 x 100/400
    index(context)

    history = member(api, bob)["history"]

    assert [
        (h["epoch"], h["shares"], h["total_shares"], h["earned"]["units"]) for h in history
    ] == [
        (1, "100", "200", "475000"),
        (2, "100", "400", "475000"),
    ]
    assert sum(int(h["earned"]["units"]) for h in history) == union.claimable(bob)


def test_revenue_held_while_an_epoch_is_posted_is_credited_by_its_final_shares(
    api, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 100, bob: 100})
    post(union, attester, 2, {alice: 300}, finish=False)
    pay(stablecoin, union, buyer, AMOUNT)  # held: split when epoch 2 is finished
    post(union, attester, 2, {bob: 300}, finish=False)  # a second batch of epoch 2
    finish_when_due(union, 2, attester)
    index(context)

    history = member(api, alice)["history"]

    # 950_000 x 300/600, not x 300/400 as the half-posted shares would have split it
    assert [(h["epoch"], h["earned"]["units"]) for h in history] == [(1, "0"), (2, "475000")]
    assert union.claimable(alice) == 475_000


def test_a_member_who_left_is_marked_and_keeps_what_they_earned(
    api, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, AMOUNT)
    union.leave({"from": bob})
    pay(stablecoin, union, buyer, AMOUNT)  # all of it to alice now
    index(context)

    bob_body, alice_body = member(api, bob), member(api, alice)

    assert bob_body["left"] is True
    assert bob_body["shares"] == "0"
    assert bob_body["claimable"]["units"] == bob_body["lifetime_earnings"]["units"] == "475000"
    assert bob_body["history"][0]["earned"]["units"] == "475000"
    assert alice_body["left"] is False
    assert alice_body["history"][0]["earned"]["units"] == str(union.claimable(alice)) == "1425000"


def test_an_address_without_history_has_zero_figures(api, context, union):
    index(context)
    address = to_checksum_address("0x" + "ab" * 20)

    body = api.get(f"/v1/members/{address}").json()

    assert (body["shares"], body["share_of_union"], body["claimable"]["units"]) == ("0", "0", "0")
    assert (body["history"], body["left"]) == ([], False)


def test_statement_csv_lists_the_years_earnings_and_claims_with_exact_amounts(
    api, context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 1})
    deposit = pay(stablecoin, union, buyer, AMOUNT)
    claim = union.claim(alice, 400_000, {"from": alice})
    year = datetime.fromtimestamp(claim.timestamp, UTC).year
    chain.sleep(int(datetime(year + 1, 1, 1, 0, 1, tzinfo=UTC).timestamp()) - chain.time())
    next_year = pay(stablecoin, union, buyer, 2 * AMOUNT)
    index(context)

    response = api.get(f"/v1/members/{alice.address}/statement", params={"year": year})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        f'filename="statement-{alice.address}-{year}.csv"'
        in (response.headers["content-disposition"])
    )
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["date_time_utc", "kind", "amount", "tx_hash"],
        [utc(deposit), "earned", "0.950000", deposit.txid],
        [utc(claim), "claimed", "0.400000", claim.txid],
    ]
    following = api.get(
        f"/v1/members/{alice.address}/statement", params={"year": year + 1, "format": "json"}
    ).json()
    assert [(r["kind"], r["amount"], r["tx_hash"]) for r in following["rows"]] == [
        ("earned", "1.900000", next_year.txid)
    ]
    assert (following["total_earned"], following["total_claimed"]) == ("1.900000", "0.000000")
    before = api.get(f"/v1/members/{alice.address}/statement", params={"year": year - 1})
    assert before.text == "date_time_utc,kind,amount,tx_hash\n"


def test_a_malformed_address_is_422_in_the_one_error_shape(api):
    bad_checksum = "0x5FbDB2315678afecb367f032d93F642f64180aA3"  # one letter's case flipped
    for address in (bad_checksum, "0x" + "ab" * 19, "0x1234", "alice", "0X" + "ab" * 20):
        for path in (f"/v1/members/{address}", f"/v1/members/{address}/statement?year=2026"):
            response = api.get(path)

            assert response.status_code == 422, path
            error = response.json()["error"]
            assert error["code"] == "invalid_request"
            assert error["details"][0]["loc"] == ["path", "address"]


def test_a_member_read_by_a_lower_or_upper_case_address_is_the_checksummed_member(api, alice):
    expected = api.get(f"/v1/members/{alice.address}").json()
    hexdigits = alice.address[2:]
    for address in ("0x" + hexdigits.lower(), "0x" + hexdigits.upper()):
        response = api.get(f"/v1/members/{address}")
        assert response.status_code == 200, response.text
        assert response.json() == expected
        statement = api.get(f"/v1/members/{address}/statement", params={"year": 2026})
        assert statement.status_code == 200, statement.text


def test_a_bad_statement_query_is_422_in_the_one_error_shape(api, alice):
    for params in (
        {"year": 1999},
        {"year": 2101},
        {"year": "2025.5"},
        {},
        {"year": 2025, "format": "pdf"},
    ):
        response = api.get(f"/v1/members/{alice.address}/statement", params=params)

        assert response.status_code == 422, params
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_proof_on_a_union_that_sets_shares_member_by_member_is_a_conflict(api, alice):
    response = api.get(f"/v1/members/{alice.address}/proof")
    assert response.status_code == 409, response.text
    assert "member by member" in response.json()["error"]["message"]
