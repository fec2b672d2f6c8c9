"""The `relayer` console script, run as an operator runs it: a process of its own configured by
RELAYER_* variables, against the test chain and a SQLite file the test reads too."""

import json
import os
import secrets
from functools import partial

import pytest
from sqlalchemy import select

from fixtures.api import close_epoch, contribution, index
from fixtures.api import post_epoch as post_epoch_in_process
from fixtures.cli import relayer, relayer_env, run_together
from fixtures.epochs import finish_when_due
from fixtures.union import pay, post, wait_until
from relayer.db import ChainEvent

#: This module's contributions (content hashes salted as they always were here).
item = partial(contribution, salt="cli test ")


@pytest.fixture
def cli_env(union, relayer_account, database_url, operator_token):
    return relayer_env(union, relayer_account, database_url, operator_token)


def onchain_report_hash(union):
    return "0x" + bytes(union.currentReportHash()).hex()


def post_epoch(api, context, operator_headers, *items):
    """Record contributions, post the next epoch in-process and, once due, finish it; returns its
    number."""
    response = api.post(
        "/v1/contributions", json={"contributions": list(items)}, headers=operator_headers
    )
    assert response.status_code == 201, response.text
    number = close_epoch(context).number
    assert post_epoch_in_process(context, number).status == "pending"
    finish_when_due(context, number)
    return number


def test_epoch_close_posts_the_next_epoch_with_a_progress_bar_and_leaves_it_pending(
    cli_env, api, operator_headers, union, alice, bob
):
    contributed = api.post(
        "/v1/contributions",
        json={"contributions": [item(alice, "a", records=300), item(bob, "b")]},
        headers=operator_headers,
    )
    assert contributed.status_code == 201, contributed.text

    done = relayer(cli_env, "epoch", "close")

    assert done.returncode == 0, done.stderr
    epoch = json.loads(done.stdout)
    assert (epoch["number"], epoch["status"]) == (1, "pending")
    assert (epoch["batches"], epoch["batches_confirmed"]) == (1, 1)
    assert [tx["status"] for tx in epoch["transactions"]] == ["confirmed"]
    assert f"epoch 1 closed: report {epoch['report_hash']}" in done.stderr
    assert "epoch 1: 100%" in done.stderr
    assert "1/1" in done.stderr
    assert "epoch 1 is pending: it takes effect once finished, from" in done.stderr
    assert epoch["report_hash"] == onchain_report_hash(union)
    assert (union.sharesOf(alice), union.sharesOf(bob)) == (3_000_000_000, 1_000_000_000)
    assert api.get("/v1/epochs/1").json() == epoch


def test_epoch_finish_refuses_before_the_due_time_and_finishes_after_it(
    cli_env, api, context, operator_headers, union, alice
):
    api.post(
        "/v1/contributions", json={"contributions": [item(alice, "a")]}, headers=operator_headers
    )
    number = close_epoch(context).number
    post_epoch_in_process(context, number)
    due_at = int(union.attributionState()[2])

    early = relayer(cli_env, "epoch", "finish", str(number))

    assert early.returncode == 2
    assert f"epoch {number} is due at {due_at} (chain time)" in early.stderr
    assert union.attributionInProgress()

    wait_until(due_at)
    done = relayer(cli_env, "epoch", "finish", str(number))

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "finished"
    assert [tx["purpose"] for tx in json.loads(done.stdout)["transactions"]] == [
        "attribution",
        "finish",
    ]
    assert not union.attributionInProgress()


def test_epoch_status_prints_the_epoch_as_json(
    cli_env, api, context, operator_headers, union, alice
):
    number = post_epoch(api, context, operator_headers, item(alice, "a"))

    done = relayer(cli_env, "epoch", "status", str(number))

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == api.get(f"/v1/epochs/{number}").json()
    assert json.loads(done.stdout)["status"] == "finished"


def test_epoch_abandon_gives_up_a_failed_epoch_so_the_next_one_closes(
    cli_env, api, context, operator_headers, union, pauser, alice
):
    contributed = api.post(
        "/v1/contributions", json={"contributions": [item(alice, "a")]}, headers=operator_headers
    )
    assert contributed.status_code == 201, contributed.text
    union.pause({"from": pauser})
    number = close_epoch(context).number
    assert post_epoch_in_process(context, number).status == "failed"
    blocked = relayer(cli_env, "epoch", "close")
    assert blocked.returncode == 2
    assert f"relayer epoch abandon {number}" in blocked.stderr

    done = relayer(cli_env, "epoch", "abandon", str(number))

    assert done.returncode == 0, done.stderr
    abandoned = json.loads(done.stdout)
    assert abandoned["status"] == "abandoned"
    assert "DataUnionEnforcedPause" in abandoned["error"]
    again = relayer(cli_env, "epoch", "abandon", str(number))
    assert again.returncode == 2
    assert "nothing to abandon" in again.stderr
    union.unpause({"from": pauser})
    following = relayer(cli_env, "epoch", "close")
    assert following.returncode == 0, following.stderr
    # None of its batches reached the chain, so the next close takes its number again.
    assert json.loads(following.stdout)["number"] == number
    assert json.loads(following.stdout)["status"] == "pending"
    assert union.sharesOf(alice) == 1_000_000_000


def test_verify_report_recomputes_the_on_chain_hash_and_rejects_a_tampered_file(
    cli_env, api, context, operator_headers, union, alice, bob, tmp_path
):
    number = post_epoch(
        api, context, operator_headers, item(alice, "a"), item(bob, "b", records=50)
    )
    served = api.get(f"/v1/epochs/{number}/report").content
    genuine = tmp_path / "report.json"
    genuine.write_bytes(served)
    report = json.loads(served)
    report["members"][0]["shares"] = str(int(report["members"][0]["shares"]) * 2)
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(json.dumps(report, sort_keys=True, separators=(",", ":")).encode())

    good, bad = run_together(
        (cli_env, ("verify-report", str(genuine))), (cli_env, ("verify-report", str(tampered)))
    )

    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout) == {
        "epoch": number,
        "reportHash": onchain_report_hash(union),
        "members": 2,
        "totalShares": union.totalShares(),
    }
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "report does not verify" in bad.stderr
    assert report["members"][0]["address"] in bad.stderr


def test_offline_estimate_prints_the_shares_of_one_contribution_without_a_chain():
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAYER_")}

    done = relayer(
        env,
        "estimate",
        "--offline",
        "--data-type",
        "health",
        "--records",
        "1000",
        "--quality",
        "0.8",
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "data_type": "health",
        "records": 1000,
        "shares": 8_000_000_000,
        "value": "8000.000000",
    }


def test_estimate_projects_earnings_from_the_unions_recent_revenue(
    cli_env, context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 8_000_000_000})
    pay(stablecoin, union, buyer, 1_000_000)  # 1 token, 0.95 after the 5% fee
    index(context)

    done = relayer(
        cli_env, "estimate", "--data-type", "health", "--records", "1000", "--quality", "0.8"
    )

    assert done.returncode == 0, done.stderr
    projected = json.loads(done.stdout)
    assert projected["estimate"] is True
    assert projected["shares"] == "8000000000"
    # As many shares as the union already has: the month's revenue per share times them.
    assert projected["monthly_earnings"]["units"] == "950000"


def test_bad_settings_exit_2_naming_each_setting_and_never_a_secret(
    cli_env, operator_token, relayer_account, union
):
    placeholder = "changeme-" + secrets.token_hex(16)
    no_token = {k: v for k, v in cli_env.items() if k != "RELAYER_OPERATOR_TOKEN"}
    letter = next(i for i, c in enumerate(union.address) if i > 1 and c.isalpha())
    bad_checksum = (
        union.address[:letter] + union.address[letter].swapcase() + union.address[letter + 1 :]
    )
    cut_key = relayer_account.private_key[:-1]
    cases = [
        (
            {**no_token, "RELAYER_CONTRACT_ADDRESS": bad_checksum},
            [
                ("RELAYER_OPERATOR_TOKEN", "Field required"),
                ("RELAYER_CONTRACT_ADDRESS", "checksummed"),
            ],
        ),
        (
            {**cli_env, "RELAYER_OPERATOR_TOKEN": placeholder},
            [("RELAYER_OPERATOR_TOKEN", "placeholder")],
        ),
        (
            {**cli_env, "RELAYER_PRIVATE_KEY": cut_key},
            [("RELAYER_PRIVATE_KEY", "32 bytes")],
        ),
    ]
    key = relayer_account.private_key.lower().removeprefix("0x")

    results = run_together(*((env, ("epoch", "status", "1")) for env, _ in cases))

    for (_, problems), done in zip(cases, results, strict=True):
        assert done.returncode == 2, done.stdout
        assert done.stdout == ""
        assert done.stderr.startswith("error: invalid settings:")
        for setting, rule in problems:
            assert f"{setting}: " in done.stderr
            assert rule in done.stderr.split(f"{setting}: ")[1].split(";")[0]
        output = done.stderr.lower()
        for secret in (operator_token, placeholder, key, bad_checksum.lower(), cut_key[2:]):
            assert secret not in output


def test_index_once_reports_the_events_it_indexed(
    cli_env, context, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 300, bob: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    union.claim(alice, 1_000, {"from": alice})

    done = relayer(cli_env, "index", "--once")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6 events indexed"
    with context.db.session() as session:
        names = session.scalars(
            select(ChainEvent.name).order_by(ChainEvent.block_number, ChainEvent.log_index)
        ).all()
    assert names == [
        "SharesSet",
        "SharesSet",
        "AttributionPosted",
        "AttributionFinished",
        "RevenueDeposited",
        "Claimed",
    ]


def test_epoch_close_on_a_chain_that_mines_only_on_transactions_stops_at_its_deadline(
    cli_env, api, operator_headers, union, alice
):
    contributed = api.post(
        "/v1/contributions", json={"contributions": [item(alice, "only")]}, headers=operator_headers
    )
    assert contributed.status_code == 201, contributed.text
    # anvil mines a block per transaction and none otherwise: two confirmations never come.
    waiting = {**cli_env, "RELAYER_CONFIRMATIONS": "2", "RELAYER_CONFIRM_TIMEOUT": "2"}

    done = relayer(waiting, "epoch", "close")

    assert done.returncode == 2, done.stdout
    assert "not mined and buried under 2 block(s) within 2 s" in done.stderr
    assert "stays in flight" in done.stderr
    status = json.loads(relayer(cli_env, "epoch", "status", "1").stdout)
    assert status["status"] == "posting"
    assert status["transactions"][0]["status"] == "sent"

    resumed = relayer(cli_env, "epoch", "post", "1")  # no confirmations asked: it completes

    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "pending"
    assert union.sharesOf(alice) > 0
