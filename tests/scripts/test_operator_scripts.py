"""The operator scripts (fee, pause, roles, guardian, status) against a union that
scripts/deploy.py put on a real anvil chain: each lever works for its role, and each refusal sends
nothing."""

import pytest
from brownie import DataUnion, DataUnionRoots, MockStablecoin, chain, web3
from eth_utils import keccak

from fixtures.union import NO_LICENSE, post, wait_until
from scripts import deploy, fee, helpers, pause, roles, status
from scripts import guardian as guardian_script

DELAY = 2 * 24 * 3600
ATTRIBUTION_DELAY = 3600  # the deploy script's local default: the contract's minimum


@pytest.fixture
def deployed(tmp_path, monkeypatch, admin, attester, pauser, guardian, fee_recipient):
    """A union deployed by the script with one account per role; scripts sign as the admin."""
    monkeypatch.setenv("UNION_DEPLOYMENT", str(tmp_path / "local.json"))
    monkeypatch.delenv("UNION_CONFIG", raising=False)
    monkeypatch.delenv("UNION_ATTRIBUTION_DELAY", raising=False)
    for key, account in {
        "ADMIN": admin,
        "ATTESTER": attester,
        "PAUSER": pauser,
        "GUARDIAN": guardian,
        "FEE_RECIPIENT": fee_recipient,
    }.items():
        monkeypatch.setenv(f"UNION_{key}", account.address)
    monkeypatch.delenv("UNION_TOKEN", raising=False)
    monkeypatch.setenv("UNION_ACCOUNT", admin.address)
    record = deploy.main()
    return DataUnion.at(record["union"]), MockStablecoin.at(record["token"])


def sign_as(monkeypatch, account):
    monkeypatch.setenv("UNION_ACCOUNT", account.address)


def nonce_of(account):
    return web3.eth.get_transaction_count(account.address)


def test_fee_change_waits_for_the_delay_then_applies(deployed, fee_recipient, rando):
    union, _ = deployed

    fee.propose("1200", rando.address)
    assert tuple(union.pendingFee())[:2] == (1_200, rando)

    with pytest.raises(helpers.ScriptError, match="DataUnionFeeChangeNotReady"):
        fee.apply()
    assert union.feeBps() == 500

    chain.sleep(DELAY + 1)
    chain.mine()
    fee.apply()
    assert union.feeBps() == 1_200
    assert union.feeRecipient() == rando
    assert union.pendingFee()[2] == 0


def test_fee_change_can_be_cancelled(deployed, rando):
    union, _ = deployed
    fee.propose("100", rando.address)

    fee.cancel()

    assert union.pendingFee()[2] == 0
    with pytest.raises(helpers.ScriptError, match="no fee change is pending"):
        fee.apply()


def test_fee_above_the_cap_is_refused_before_sending(deployed, admin, rando):
    union, _ = deployed
    before = nonce_of(admin)

    with pytest.raises(helpers.ScriptError, match="fee must be between 0 and 2000"):
        fee.propose("2001", rando.address)

    assert nonce_of(admin) == before
    assert union.pendingFee()[2] == 0


def test_fee_proposal_by_a_non_admin_is_refused(deployed, monkeypatch, rando):
    union, _ = deployed
    sign_as(monkeypatch, rando)

    before = nonce_of(rando)

    with pytest.raises(helpers.ScriptError, match="does not hold the admin role"):
        fee.propose("100", rando.address)

    assert nonce_of(rando) == before
    assert union.pendingFee()[2] == 0


def test_fee_recipient_withdraws_its_fees(
    deployed, monkeypatch, admin, attester, fee_recipient, buyer, rando
):
    union, token = deployed
    post(union, attester, 1, {admin.address: 10})
    token.mint(buyer, 1_000_000, {"from": buyer})
    token.approve(union, 1_000_000, {"from": buyer})
    union.deposit(1_000_000, NO_LICENSE, {"from": buyer})
    sign_as(monkeypatch, fee_recipient)

    fee.withdraw(rando.address)

    assert token.balanceOf(rando) == 50_000
    assert union.feesOwed(fee_recipient) == 0


def test_pauser_pauses_and_unpauses(deployed, monkeypatch, pauser):
    union, _ = deployed
    sign_as(monkeypatch, pauser)

    pause.pause()
    assert union.paused()
    with pytest.raises(helpers.ScriptError, match="already paused"):
        pause.pause()

    pause.unpause()
    assert not union.paused()


def test_pause_by_an_account_without_the_role_is_refused(deployed, admin):
    union, _ = deployed
    before = nonce_of(admin)

    with pytest.raises(helpers.ScriptError, match="does not hold the pauser role"):
        pause.pause()

    assert nonce_of(admin) == before
    assert not union.paused()


def test_rotating_the_relayer_key_schedules_waits_then_moves_attestation(
    deployed, attester, rando, alice, capsys
):
    union, _ = deployed

    eta = roles.grant("attester", rando.address)
    last_eta = roles.revoke("attester", attester.address)

    assert roles.show(rando.address) == []  # scheduled, not yet in force
    assert "scheduled: grant attester, executable at" in capsys.readouterr().out
    assert {c[:3] for c in roles.pending()} == {
        ("attester", rando.address, True),
        ("attester", attester.address, False),
    }
    with pytest.raises(helpers.ScriptError, match="DataUnionRoleChangeNotReady"):
        roles.execute("attester", rando.address, "grant")

    wait_until(max(eta, last_eta))  # scheduled a block apart: the revocation may be a second later
    roles.execute("attester", rando.address, "grant")
    roles.execute("attester", attester.address, "revoke")

    assert roles.show(rando.address) == ["attester"]
    assert roles.show(attester.address) == []
    assert roles.pending() == []
    union.postAttribution(1, b"\x01" * 32, [alice], [7], {"from": rando})
    assert union.sharesOf(alice) == 7
    with pytest.raises(Exception, match="AccessControlUnauthorizedAccount"):
        union.postAttribution(1, b"\x01" * 32, [alice], [8], {"from": attester})


def test_admin_and_pauser_still_change_at_once(deployed, rando):
    union, _ = deployed

    roles.grant("pauser", rando.address)

    assert union.hasRole(union.PAUSER_ROLE(), rando)
    assert roles.pending() == []


def test_a_scheduled_change_is_refused_twice_and_cancelled_by_the_admin(deployed, admin, rando):
    union, _ = deployed
    roles.grant("guardian", rando.address)
    before = nonce_of(admin)

    with pytest.raises(helpers.ScriptError, match="already scheduled, executable at"):
        roles.grant("guardian", rando.address)
    assert nonce_of(admin) == before

    roles.cancel("guardian", rando.address, "grant")
    assert union.roleChangeEta(union.GUARDIAN_ROLE(), rando, True) == 0
    with pytest.raises(helpers.ScriptError, match=r"no grant of guardian for .* is scheduled"):
        roles.execute("guardian", rando.address, "grant")


def test_delayed_role_commands_refuse_immediate_roles_and_bad_changes(deployed, admin, rando):
    before = nonce_of(admin)

    with pytest.raises(helpers.ScriptError, match="the pauser role changes at once"):
        roles.execute("pauser", rando.address, "grant")
    with pytest.raises(helpers.ScriptError, match="say grant or revoke, not 'add'"):
        roles.cancel("attester", rando.address, "add")

    assert nonce_of(admin) == before


def test_guardian_vetoes_the_pending_epoch(deployed, monkeypatch, attester, guardian, alice):
    union, _ = deployed
    post(union, attester, 1, {alice.address: 3}, finish=False)
    sign_as(monkeypatch, guardian)

    assert guardian_main_state() == (1, "pending")
    guardian_script.veto("1")

    assert tuple(union.attributionState())[:2] == (1, 2)
    with pytest.raises(helpers.ScriptError, match="epoch 1 is not pending"):
        guardian_script.veto("1")


def guardian_main_state():
    shown = guardian_script.main()
    return shown["epoch"], shown["state"]


def test_guardian_veto_is_refused_for_a_finished_epoch_or_a_non_guardian(
    deployed, monkeypatch, admin, attester, guardian, alice
):
    union, _ = deployed
    post(union, attester, 1, {alice.address: 3})
    sign_as(monkeypatch, guardian)
    before = nonce_of(guardian)

    with pytest.raises(helpers.ScriptError, match=r"current epoch is 1 \(finished\)"):
        guardian_script.veto("1")
    sign_as(monkeypatch, admin)
    with pytest.raises(helpers.ScriptError, match="does not hold the guardian role"):
        guardian_script.veto("1")

    assert nonce_of(guardian) == before


def test_guardian_cancels_a_role_change_the_admin_scheduled(deployed, monkeypatch, guardian, rando):
    union, _ = deployed
    eta = roles.revoke("guardian", guardian.address)  # e.g. by a stolen admin key
    sign_as(monkeypatch, guardian)
    assert guardian_script.main()["changes"] == [("guardian", guardian.address, False, eta)]

    guardian_script.cancel("guardian", guardian.address, "revoke")

    assert guardian_script.main()["changes"] == []
    wait_until(eta)
    with pytest.raises(helpers.ScriptError, match="no revoke of guardian"):
        roles.execute("guardian", guardian.address, "revoke")
    assert union.hasRole(union.GUARDIAN_ROLE(), guardian)


def test_status_shows_the_pending_epoch_its_due_time_and_then_the_veto(
    deployed, attester, guardian, alice, capsys
):
    union, _ = deployed
    tx = post(union, attester, 1, {alice.address: 3}, finish=False)
    capsys.readouterr()

    status.main()

    out = capsys.readouterr().out
    shown = status.show_attribution(union, {"block": 0})
    line = next(line for line in out.splitlines() if "epoch  " in line)
    assert "1 pending (revenue held), due at" in line
    assert line.endswith("s to go)")
    assert shown["due_at"] == tx.timestamp + ATTRIBUTION_DELAY
    assert "attribution delay 3,600 s (1 h)" in out

    union.vetoAttribution(1, {"from": guardian})
    status.main()
    out = capsys.readouterr().out
    assert "epoch             1 vetoed: never takes effect" in out
    assert f"vetoed            epoch 1 by {guardian.address}" in out


def test_status_says_when_a_pending_epoch_is_due(deployed, attester, alice, capsys):
    union, _ = deployed
    post(union, attester, 1, {alice.address: 3}, finish=False)
    wait_until(union.attributionState()[2])
    capsys.readouterr()

    status.main()

    assert "(due)" in capsys.readouterr().out


def test_role_changes_refuse_unknown_roles_duplicates_and_self_demotion(deployed, admin, attester):
    before = nonce_of(admin)

    with pytest.raises(helpers.ScriptError, match="unknown role 'owner'"):
        roles.grant("owner", attester.address)
    with pytest.raises(helpers.ScriptError, match="already holds the attester role"):
        roles.grant("attester", attester.address)
    with pytest.raises(helpers.ScriptError, match="does not hold the pauser role"):
        roles.revoke("pauser", attester.address)
    with pytest.raises(helpers.ScriptError, match="refusing to revoke your own admin role"):
        roles.revoke("admin", admin.address)

    assert nonce_of(admin) == before


def test_status_reconciles_the_books_after_deposits_and_claims(
    deployed, attester, fee_recipient, buyer, alice, bob, capsys
):
    union, token = deployed
    post(union, attester, 1, {alice.address: 1, bob.address: 2})
    for amount in (1_000_001, 333_333):
        token.mint(buyer, amount, {"from": buyer})
        token.approve(union, amount, {"from": buyer})
        union.deposit(amount, NO_LICENSE, {"from": buyer})
    union.claim(alice, 100, {"from": alice})
    token.mint(union, 7, {"from": buyer})  # a plain transfer nobody has synced yet

    books = status.main()

    assert books["balance"] == token.balanceOf(union)
    assert books["claimable"] == union.claimable(alice) + union.claimable(bob)
    assert books["fees_owed"] == union.feesOwed(fee_recipient) > 0
    assert books["unsynced"] == 7
    assert 0 <= books["remainder"] < 2  # rounding dust: less than a unit per member
    out = capsys.readouterr().out
    assert "solvent" in out
    assert "0.000100 mUSD" in out.split("total claimed")[1].splitlines()[0]
    assert f"{alice.address}                        1 33.3333%" in out


def test_scripts_refuse_a_record_from_another_chain(deployed, tmp_path, monkeypatch):
    other = tmp_path / "other.json"
    other.write_text('{"chainId": 1, "union": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}')
    monkeypatch.setenv("UNION_DEPLOYMENT", str(other))

    with pytest.raises(helpers.ScriptError, match=f"is for chain 1, not {chain.id}"):
        status.main()


def test_status_shows_a_pending_fee_with_its_eta(deployed, rando, capsys):
    fee.propose("700", rando.address)
    capsys.readouterr()

    status.main()

    out = capsys.readouterr().out
    assert f"pending    700 bps to {rando.address}, applies at" in out
    assert "s to go)" in out.split("pending")[1].splitlines()[0]


def test_script_bounds_mirror_the_contract(deployed):
    union, _ = deployed

    assert union.MAX_FEE_BPS() == helpers.MAX_FEE_BPS
    assert union.MIN_FEE_DELAY() == helpers.MIN_FEE_DELAY
    assert union.MAX_FEE_DELAY() == helpers.MAX_FEE_DELAY
    assert union.MIN_ATTRIBUTION_DELAY() == helpers.MIN_ATTRIBUTION_DELAY
    assert union.MAX_ATTRIBUTION_DELAY() == helpers.MAX_ATTRIBUTION_DELAY


def test_live_network_lever_without_a_yes_sends_nothing(deployed, monkeypatch, pauser):
    union, _ = deployed
    monkeypatch.setattr(helpers, "signer", lambda: pauser)
    monkeypatch.setattr(helpers, "is_local", lambda: False)
    before = nonce_of(pauser)

    with pytest.raises(helpers.ScriptError, match="needs a yes"):
        pause.pause()

    assert nonce_of(pauser) == before
    assert not union.paused()


def test_status_fails_when_tokens_are_missing_from_the_pool(deployed, attester, buyer, alice):
    union, token = deployed
    post(union, attester, 1, {alice.address: 1})
    token.mint(buyer, 1_000_000, {"from": buyer})
    token.approve(union, 1_000_000, {"from": buyer})
    union.deposit(1_000_000, NO_LICENSE, {"from": buyer})
    # Take tokens out behind the union's back: ERC-20 balances are mapping slot 0 in the mock.
    slot = keccak(bytes.fromhex(union.address[2:].rjust(64, "0")) + bytes(32))
    web3.provider.make_request(
        "anvil_setStorageAt", [token.address, "0x" + slot.hex(), "0x" + "00" * 31 + "01"]
    )
    assert token.balanceOf(union) == 1

    with pytest.raises(helpers.ScriptError, match="token balance is below what the union's"):
        status.main()


def test_status_of_a_root_mode_union_shows_its_roots_and_whole_books(
    deployed, monkeypatch, attester, buyer, alice, bob, capsys
):
    from fixtures.roots import RootBook

    monkeypatch.setenv("UNION_KIND", "roots")
    record = deploy.main()
    union = DataUnionRoots.at(record["union"])
    token = MockStablecoin.at(record["token"])
    book = RootBook(union, attester)
    book.post({alice: 1, bob: 3})
    token.mint(buyer, 1_000_000, {"from": buyer})
    token.approve(union, 1_000_000, {"from": buyer})
    union.deposit(1_000_000, NO_LICENSE, {"from": buyer})
    union.claim(alice, 100, *book.claim_args(alice), {"from": alice})

    books = status.main()

    assert books["balance"] == token.balanceOf(union) == 1_000_000 - 100
    assert books["fees_owed"] == 50_000
    assert books["members_part"] == 950_000 - 100
    out = capsys.readouterr().out
    assert f"Root in force: epoch 1, root 0x{book.active.root.hex()}" in out
