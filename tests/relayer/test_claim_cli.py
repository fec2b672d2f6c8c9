"""`relayer claim`, run as a member runs it with the relayer gone: a process of its own given only
the published report, the union's address, an RPC URL and the member's key file, against a
DataUnionRoots on anvil. No relayer, no database, no RELAYER_* settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import brownie
import pytest
from eth_account import Account

from fixtures.accounts import local_account
from fixtures.published import publish, tampered
from fixtures.union import pay

RELAYER = Path(sys.executable).with_name("relayer")
TOKEN = 10**6
REVENUE = 1_000 * TOKEN
SECRET = "sk-claim-test-0123456789"


@pytest.fixture(scope="module")
def member(admin):
    """A member with a key of their own (in a file) and gas money."""
    account = local_account("offline claimer")
    admin.transfer(account, "1 ether")
    return account


@pytest.fixture
def key_file(member, tmp_path):
    path = tmp_path / "member.key"
    path.write_text(member.private_key)
    return path


@pytest.fixture
def reports(book, stablecoin, roots_union, buyer, member, bob, tmp_path):
    """Two finished roots with revenue after each: epoch 1's report is old, epoch 2's in force."""
    first = publish(book, {member: 3_000, bob: 1_000}, tmp_path / "epoch-1.json")
    pay(stablecoin, roots_union, buyer, REVENUE)
    second = publish(book, {member: 1_000, bob: 1_000}, tmp_path / "epoch-2.json")
    pay(stablecoin, roots_union, buyer, REVENUE)
    return {1: first, 2: second}


def claim(union, report, key_file, *args, rpc_url=None, password=None, verbose=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
    env["RELAYER_CLAIM_RPC_URL"] = rpc_url or brownie.web3.provider.endpoint_uri
    if password is not None:
        env["RELAYER_CLAIM_KEY_PASSWORD"] = password
    command = [
        str(RELAYER),
        *(["-v"] if verbose else []),
        "claim",
        "--report",
        str(report),
        "--union",
        union.address,
        "--key-file",
        str(key_file),
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_claim_pays_everything_the_reports_leaf_proves(
    roots_union, stablecoin, book, member, reports, key_file
):
    claimable = book.claimable(member)
    assert claimable > 0
    before = stablecoin.balanceOf(member)

    done = claim(roots_union, reports[2], key_file)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["claimed"] == str(claimable)
    assert (summary["epoch"], summary["member"], summary["to"]) == (
        2,
        member.address,
        member.address,
    )
    assert stablecoin.balanceOf(member) - before == claimable
    assert roots_union.claimedBy(member) == claimable
    tx = brownie.chain.get_transaction(summary["transaction"])
    assert tx.sender == member.address
    assert tx.events["Claimed"]["amount"] == claimable
    assert "root in force epoch 2" in done.stderr
    assert "rebuilt from its leaves" in done.stderr


def test_claim_pays_the_amount_asked_to_another_address(
    roots_union, stablecoin, book, member, bob, reports, key_file
):
    before = stablecoin.balanceOf(bob)

    done = claim(roots_union, reports[2], key_file, "--amount", "1234567", "--to", bob.address)

    assert done.returncode == 0, done.stderr
    assert stablecoin.balanceOf(bob) - before == 1_234_567
    assert roots_union.claimedBy(member) == 1_234_567
    assert roots_union.claimedBy(bob) == 0


def test_a_report_of_an_older_epoch_is_refused_and_nothing_is_sent(
    roots_union, member, reports, key_file
):
    nonce = brownie.web3.eth.get_transaction_count(member.address)

    done = claim(roots_union, reports[1], key_file)

    assert done.returncode == 2
    assert "the report is epoch 1's" in done.stderr
    assert "use epoch 2's published report" in done.stderr
    assert brownie.web3.eth.get_transaction_count(member.address) == nonce
    assert roots_union.claimedBy(member) == 0


def test_a_report_whose_leaves_do_not_rebuild_its_root_is_refused(
    roots_union, member, reports, key_file, tmp_path
):
    forged = tampered(reports[2], tmp_path / "forged.json", member, 1_000_000)

    done = claim(roots_union, forged, key_file)

    assert done.returncode == 2
    assert "was altered" in done.stderr
    assert roots_union.claimedBy(member) == 0


def test_more_than_claimable_is_refused_before_anything_is_sent(
    roots_union, book, member, reports, key_file
):
    too_much = book.claimable(member) + 1

    done = claim(roots_union, reports[2], key_file, "--amount", str(too_much))

    assert done.returncode == 2
    assert "more than the" in done.stderr
    assert roots_union.claimedBy(member) == 0


def test_a_dry_run_shows_the_claimable_amount_and_sends_nothing(
    roots_union, book, member, reports, key_file
):
    done = claim(roots_union, reports[2], key_file, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["claimable"] == str(book.claimable(member))
    assert "dry run: nothing sent" in done.stderr
    assert roots_union.claimedBy(member) == 0


def test_a_member_who_left_claims_their_frozen_earnings_with_the_report(
    roots_union, stablecoin, book, member, reports, key_file
):
    roots_union.leave(*book.leave_args(member), {"from": member})
    frozen = roots_union.claimable(member, (0, 0, 0), [])
    assert frozen > 0

    done = claim(roots_union, reports[2], key_file)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["claimed"] == str(frozen)
    assert "left the union" in done.stderr


def test_the_rpc_url_and_the_key_never_reach_the_output(roots_union, member, reports, key_file):
    rpc_url = f"{brownie.web3.provider.endpoint_uri}/?apikey={SECRET}"

    done = claim(roots_union, reports[2], key_file, rpc_url=rpc_url, verbose=True)

    assert done.returncode == 0, done.stderr
    everything = done.stdout + done.stderr
    assert SECRET not in everything
    assert member.private_key.lower().removeprefix("0x") not in everything.lower()


def test_a_report_of_another_union_is_refused(union, roots_union, reports, key_file):
    done = claim(union, reports[2], key_file)

    assert done.returncode == 2
    assert f"the report is of union {roots_union.address}, not of {union.address}" in done.stderr


def test_a_push_union_is_refused_as_not_a_root_mode_union(union, reports, key_file, tmp_path):
    report = json.loads(reports[2].read_text())
    report["union"]["address"] = union.address
    elsewhere = tmp_path / "push.json"
    elsewhere.write_text(json.dumps(report))

    done = claim(union, elsewhere, key_file)

    assert done.returncode == 2
    assert "is not a root-mode union" in done.stderr


def test_claim_takes_the_key_from_an_encrypted_keystore(
    roots_union, book, member, reports, tmp_path
):
    keystore = tmp_path / "member.json"
    keystore.write_text(json.dumps(Account.encrypt(member.private_key, SECRET)))
    claimable = book.claimable(member)

    done = claim(roots_union, reports[2], keystore, password=SECRET)

    assert done.returncode == 0, done.stderr
    assert roots_union.claimedBy(member) == claimable
    assert SECRET not in done.stdout + done.stderr


def test_a_keystore_without_its_password_is_refused(roots_union, reports, member, tmp_path):
    keystore = tmp_path / "member.json"
    keystore.write_text(json.dumps(Account.encrypt(member.private_key, SECRET)))

    done = claim(roots_union, reports[2], keystore)

    assert done.returncode == 2
    assert "set RELAYER_CLAIM_KEY_PASSWORD" in done.stderr
