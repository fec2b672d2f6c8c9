"""scripts/deploy.py on a real anvil chain: the union it deploys, the record the relayer reads,
and every refusal happening before anything is sent."""

import json

import pytest
from brownie import DataUnion, DataUnionRoots, MockStablecoin, chain, web3
from eth_utils import keccak

from relayer.settings import Settings
from scripts import deploy, helpers

DAY = 24 * 3600


@pytest.fixture
def record_path(tmp_path, monkeypatch):
    path = tmp_path / "deployments" / "local.json"
    monkeypatch.setenv("UNION_DEPLOYMENT", str(path))
    for key in deploy.KEYS:
        monkeypatch.delenv(f"UNION_{key.upper()}", raising=False)
    monkeypatch.delenv("UNION_CONFIG", raising=False)
    monkeypatch.delenv("UNION_ACCOUNT", raising=False)
    return path


@pytest.fixture
def live(monkeypatch):
    """Make the scripts treat the chain as a live network (confirmation, no defaults)."""
    monkeypatch.setattr(helpers, "is_local", lambda: False)
    monkeypatch.setattr(deploy, "is_local", lambda: False)
    monkeypatch.setattr(helpers, "signer", lambda: web3_account(0))
    monkeypatch.setattr(deploy, "signer", lambda: web3_account(0))


def web3_account(index):
    from brownie import accounts

    return accounts[index]


def set_roles(monkeypatch, admin, attester, pauser, fee_recipient, token=None, guardian=None):
    values = {
        "ADMIN": admin,
        "ATTESTER": attester,
        "PAUSER": pauser,
        "GUARDIAN": guardian or pauser,
        "FEE_RECIPIENT": fee_recipient,
        "FEE_BPS": 250,
        "FEE_DELAY": 3 * DAY,
        "ATTRIBUTION_DELAY": 6 * 3600,
    }
    if token is not None:
        values["TOKEN"] = token
    for key, value in values.items():
        monkeypatch.setenv(f"UNION_{key}", str(getattr(value, "address", value)))


def answers_active_root(union_address):
    """Whether the contract answers `activeRoot()`, which only a roots union has."""
    selector = "0x" + keccak(text="activeRoot()")[:4].hex()
    try:
        web3.eth.call({"to": union_address, "data": selector})
    except ValueError:  # execution reverted: no such function
        return False
    return True


def sent_nothing(account, before):
    return web3.eth.get_transaction_count(account.address) == before


def test_local_deploy_uses_defaults_and_writes_the_record_the_relayer_reads(record_path, admin):
    record = deploy.main()

    union = DataUnion.at(record["union"])
    token = MockStablecoin.at(record["token"])
    assert token.decimals() == record["tokenDecimals"] == 6
    assert union.token() == token.address
    assert union.feeBps() == 500
    assert union.FEE_DELAY() == 2 * DAY
    assert union.ATTRIBUTION_DELAY() == 3600 == record["attributionDelay"]  # the minimum
    for role in ("DEFAULT_ADMIN_ROLE", "ATTESTER_ROLE", "PAUSER_ROLE", "GUARDIAN_ROLE"):
        assert union.hasRole(getattr(union, role)(), admin)
    assert record["roles"]["guardian"] == admin.address
    assert union.feeRecipient() == admin
    assert json.loads(record_path.read_text()) == record
    assert record["chainId"] == chain.id
    assert record["block"] == web3.eth.get_transaction_receipt(record["transaction"]).blockNumber

    settings = Settings(
        chain_id=chain.id,
        deployment_file=record_path,
        private_key="0x" + "11" * 32,
        operator_token="7dQ2xZ9pLk4sV1mN8bR3tY6wC0eH5jUa",
    )
    assert settings.union_address == union.address
    assert settings.first_block == record["block"]


def test_default_kind_is_the_push_union(record_path, capsys):
    record = deploy.main()

    assert (record["kind"], record["contract"]) == ("push", "DataUnion")
    assert record["abi"] == "build/contracts/DataUnion.json"
    assert not answers_active_root(record["union"])
    assert DataUnion.at(record["union"]).feeBps() == 500
    out = capsys.readouterr().out
    assert "Deploying a DataUnion on" in out
    assert "kind            push: epochs post every member's shares" in out


def test_roots_kind_deploys_a_roots_union_with_the_same_parameters_and_records_its_kind(
    record_path, monkeypatch, stablecoin, admin, attester, pauser, guardian, fee_recipient, capsys
):
    set_roles(
        monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin, guardian=guardian
    )
    monkeypatch.setenv("UNION_KIND", "roots")

    record = deploy.main()

    union = DataUnionRoots.at(record["union"])
    assert (record["kind"], record["contract"]) == ("roots", "DataUnionRoots")
    assert answers_active_root(record["union"])
    epoch, root, start = union.activeRoot()
    assert (epoch, start, root) == (0, 0, "0x" + "00" * 32)  # no root posted yet
    assert union.token() == stablecoin.address
    assert union.hasRole(union.ATTESTER_ROLE(), attester)
    assert not union.hasRole(union.ATTESTER_ROLE(), admin)
    assert union.hasRole(union.GUARDIAN_ROLE(), guardian)
    assert union.feeRecipient() == fee_recipient
    assert union.feeBps() == 250
    assert union.FEE_DELAY() == 3 * DAY
    assert union.ATTRIBUTION_DELAY() == 6 * 3600 == record["attributionDelay"]
    assert record["abi"] == "build/contracts/DataUnionRoots.json"
    assert (helpers.ROOT / record["abi"]).exists()
    abi = json.dumps(DataUnionRoots.abi, sort_keys=True)
    assert record["abiKeccak"] == "0x" + keccak(text=abi).hex()
    assert json.loads(record_path.read_text()) == record
    out = capsys.readouterr().out
    plan = out[: out.index("DataUnionRoots deployed at")]
    assert "Deploying a DataUnionRoots on" in plan
    assert "kind            roots: epochs post one Merkle root, whatever the member count" in plan
    assert f"attester        {attester.address}" in plan


def test_roots_kind_from_the_config_file_on_a_local_chain_takes_the_local_defaults(
    record_path, monkeypatch, tmp_path, admin
):
    config = tmp_path / "union.json"
    config.write_text(json.dumps({"kind": "roots"}))
    monkeypatch.setenv("UNION_CONFIG", str(config))

    record = deploy.main()

    union = DataUnionRoots.at(record["union"])
    assert record["kind"] == "roots"
    assert union.feeBps() == 500
    assert union.ATTRIBUTION_DELAY() == 3600
    assert union.hasRole(union.ATTESTER_ROLE(), admin)
    assert MockStablecoin.at(record["token"]).decimals() == 6


def test_deploy_takes_roles_fee_and_an_existing_token_from_the_environment(
    record_path, monkeypatch, stablecoin, admin, attester, pauser, guardian, fee_recipient
):
    set_roles(
        monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin, guardian=guardian
    )

    record = deploy.main()

    union = DataUnion.at(record["union"])
    assert union.token() == stablecoin.address == record["token"]
    assert union.hasRole(union.ATTESTER_ROLE(), attester)
    assert not union.hasRole(union.ATTESTER_ROLE(), admin)
    assert union.hasRole(union.PAUSER_ROLE(), pauser)
    assert union.feeRecipient() == fee_recipient == record["feeRecipient"]
    assert union.feeBps() == 250
    assert union.FEE_DELAY() == 3 * DAY
    assert union.ATTRIBUTION_DELAY() == 6 * 3600 == record["attributionDelay"]
    assert union.hasRole(union.GUARDIAN_ROLE(), guardian)
    assert not union.hasRole(union.GUARDIAN_ROLE(), pauser)
    assert record["roles"] == {
        "admin": admin.address,
        "attester": attester.address,
        "pauser": pauser.address,
        "guardian": guardian.address,
    }


def test_environment_overrides_the_config_file(record_path, monkeypatch, tmp_path, attester):
    config = tmp_path / "union.json"
    config.write_text(json.dumps({"fee_bps": 1_000, "attester": attester.address}))
    monkeypatch.setenv("UNION_CONFIG", str(config))
    monkeypatch.setenv("UNION_FEE_BPS", "1500")

    union = DataUnion.at(deploy.main()["union"])

    assert union.feeBps() == 1_500
    assert union.hasRole(union.ATTESTER_ROLE(), attester)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("UNION_ATTESTER", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "EIP-55 checksum"),
        ("UNION_PAUSER", "0x1234", "not an address"),
        ("UNION_FEE_RECIPIENT", "0x" + "00" * 20, "zero address"),
        ("UNION_FEE_BPS", "2001", "fee must be between 0 and 2000"),
        ("UNION_FEE_BPS", "5%", "fee is not an integer"),
        ("UNION_FEE_DELAY", "3599", "fee_delay must be between 3600"),
        ("UNION_ATTRIBUTION_DELAY", "3599", "attribution_delay must be between 3600 and 2592000"),
        ("UNION_ATTRIBUTION_DELAY", "2592001", "attribution_delay must be between 3600"),
        ("UNION_ATTRIBUTION_DELAY", "1h", "attribution_delay is not an integer"),
        ("UNION_GUARDIAN", "0x" + "00" * 20, "guardian is the zero address"),
        ("UNION_TOKEN", "0x" + "ab" * 20, "fails its EIP-55 checksum"),
        ("UNION_KIND", "merkle", "kind must be one of push, roots, not 'merkle'"),
    ],
)
def test_bad_parameter_is_refused_before_anything_is_sent(
    record_path, monkeypatch, admin, variable, value, message
):
    monkeypatch.setenv(variable, value)
    nonce = web3.eth.get_transaction_count(admin.address)

    with pytest.raises(helpers.ScriptError, match=message):
        deploy.main()

    assert sent_nothing(admin, nonce)
    assert not record_path.exists()


def test_token_without_code_is_refused(record_path, monkeypatch, admin, rando):
    monkeypatch.setenv("UNION_TOKEN", rando.address)
    nonce = web3.eth.get_transaction_count(admin.address)

    with pytest.raises(helpers.ScriptError, match="has no contract code"):
        deploy.main()

    assert sent_nothing(admin, nonce)


def test_unknown_config_key_is_refused(record_path, monkeypatch, tmp_path):
    config = tmp_path / "union.json"
    config.write_text(json.dumps({"fee": 100}))
    monkeypatch.setenv("UNION_CONFIG", str(config))

    with pytest.raises(helpers.ScriptError, match=r"unknown keys \['fee'\]"):
        deploy.main()


def test_live_network_needs_every_parameter(record_path, live):
    with pytest.raises(helpers.ScriptError) as refused:
        deploy.main()

    for variable in (
        "UNION_TOKEN",
        "UNION_ADMIN",
        "UNION_ATTESTER",
        "UNION_GUARDIAN",
        "UNION_FEE_BPS",
        "UNION_ATTRIBUTION_DELAY",
    ):
        assert variable in str(refused.value)
    assert "UNION_KIND" not in str(refused.value)  # the push union unless asked otherwise


def test_live_network_without_a_yes_sends_nothing(
    record_path, live, monkeypatch, stablecoin, admin, attester, pauser, fee_recipient, capsys
):
    set_roles(monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin)
    nonce = web3.eth.get_transaction_count(admin.address)

    with pytest.raises(helpers.ScriptError, match="needs a yes"):
        deploy.main()

    assert sent_nothing(admin, nonce)
    assert not record_path.exists()
    plan = capsys.readouterr().out
    assert f"attester        {attester.address}" in plan
    assert "fee             250 bps (2.5%)" in plan
    assert f"guardian        {pauser.address}" in plan
    assert "epoch delay     21,600 s (6 h): the guardian's window to veto" in plan
    assert "(mUSD, 6 decimals)" in plan
    assert "Deploying a DataUnion on" in plan


def test_live_network_declined_at_the_prompt_sends_nothing(
    record_path, live, monkeypatch, stablecoin, admin, attester, pauser, fee_recipient
):
    set_roles(monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    nonce = web3.eth.get_transaction_count(admin.address)

    with pytest.raises(helpers.ScriptError, match="cancelled"):
        deploy.main()

    assert sent_nothing(admin, nonce)


def test_live_network_deploys_with_a_yes_and_never_overwrites_its_record(
    record_path, live, monkeypatch, stablecoin, admin, attester, pauser, fee_recipient
):
    set_roles(monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin)
    monkeypatch.setenv("UNION_YES", "1")

    first = deploy.main()
    nonce = web3.eth.get_transaction_count(admin.address)

    with pytest.raises(helpers.ScriptError, match="already records a deployment"):
        deploy.main()
    assert sent_nothing(admin, nonce)
    assert json.loads(record_path.read_text()) == first


def test_live_network_checks_parameters_before_unlocking_the_keystore(
    record_path, live, monkeypatch, stablecoin, admin, attester, pauser, fee_recipient
):
    set_roles(monkeypatch, admin, attester, pauser, fee_recipient, token=stablecoin)
    monkeypatch.setenv("UNION_FEE_BPS", "2001")
    unlocked = []
    monkeypatch.setattr(deploy, "signer", lambda: unlocked.append(True))

    with pytest.raises(helpers.ScriptError, match="fee must be between 0 and 2000"):
        deploy.main()

    assert unlocked == []
