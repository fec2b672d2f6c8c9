"""Settings refuse what would make the relayer unsafe or ambiguous, and never show a secret."""

import pytest
from pydantic import ValidationError

from relayer.errors import ConfigError
from relayer.settings import Settings

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = "0x" + "11" * 32
TOKEN = "k3J9xQ2mZr8vLw4nT7yB1cH6dF0gA5sE"


def make(**overrides):
    values = {
        "chain_id": 1,
        "contract_address": ADDRESS,
        "private_key": KEY,
        "operator_token": TOKEN,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.mark.parametrize(
    "token",
    [
        "short",
        "changeme-changeme-changeme-changeme",
        "a" * 40,
        "my-operator-token-0123456789abcdef",
    ],
)
def test_placeholder_or_short_operator_tokens_are_refused(token):
    with pytest.raises(ValidationError, match="operator token"):
        make(operator_token=token)


def test_secrets_never_show_in_repr_or_errors():
    settings = make()
    assert TOKEN not in repr(settings)
    assert KEY[2:] not in repr(settings)
    with pytest.raises(ValidationError) as raised:
        make(private_key="0x12345678")
    assert "12345678" not in str(raised.value)


@pytest.mark.parametrize(
    "key",
    [KEY[:-1], KEY[2:-1], KEY + "1", "0x" + "1" * 62, KEY[:-1] + "g", "", "0x"],
)
def test_a_private_key_that_is_not_exactly_32_bytes_is_refused_at_load(key):
    """eth-account would left-pad 63 digits into another account's key without a word."""
    with pytest.raises(ValidationError, match="32 bytes: 64 hex digits") as raised:
        make(private_key=key)
    if len(key) > 8:
        assert key.removeprefix("0x") not in str(raised.value)


def test_a_private_key_with_or_without_0x_is_the_same_account():
    assert make(private_key=KEY[2:]).signer().address == make().signer().address


def test_exactly_one_contract_source_and_one_key_source_are_required(tmp_path):
    with pytest.raises(ValidationError, match="exactly one"):
        make(contract_address=None)
    with pytest.raises(ValidationError, match="exactly one"):
        make(deployment_file=tmp_path / "d.json")
    with pytest.raises(ValidationError, match="exactly one"):
        make(keystore_file=tmp_path / "k.json")


def test_a_lower_case_contract_address_is_normalised_and_a_bad_checksum_refused():
    assert make(contract_address=ADDRESS.lower()).contract_address == ADDRESS
    with pytest.raises(ValidationError, match="checksummed"):
        make(contract_address=ADDRESS[:3] + ADDRESS[3].swapcase() + ADDRESS[4:])


def test_deployment_file_supplies_address_and_start_block(tmp_path):
    path = tmp_path / "local.json"
    path.write_text(f'{{"chainId": 1, "union": "{ADDRESS}", "block": 7}}')
    settings = make(contract_address=None, deployment_file=path)
    assert settings.union_address == ADDRESS
    assert settings.first_block == 7
    with pytest.raises(ConfigError, match="chain 1, not 5"):
        _ = make(contract_address=None, deployment_file=path, chain_id=5).union_address


def test_keystore_key_is_decrypted_with_its_password(tmp_path):
    from eth_account import Account

    path = tmp_path / "key.json"
    path.write_text(__import__("json").dumps(Account.encrypt(KEY, "pw-1")))
    settings = make(private_key=None, keystore_file=path, keystore_password="pw-1")
    assert settings.signer().address == Account.from_key(KEY).address
    with pytest.raises(ConfigError, match="cannot decrypt"):
        make(private_key=None, keystore_file=path, keystore_password="wrong").signer()


def test_settings_come_from_the_environment_with_one_prefix(monkeypatch):
    for name, value in {
        "CHAIN_ID": "31337",
        "CONTRACT_ADDRESS": ADDRESS,
        "PRIVATE_KEY": KEY,
        "OPERATOR_TOKEN": TOKEN,
        "BATCH_SIZE": "50",
    }.items():
        monkeypatch.setenv(f"RELAYER_{name}", value)
    settings = Settings()  # type: ignore[call-arg]
    assert (settings.chain_id, settings.batch_size) == (31337, 50)
    monkeypatch.setenv("RELAYER_BATCH_SIZE", "501")
    with pytest.raises(ValidationError, match="batch_size"):
        Settings()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://rpc.example", "http://rpc example", "rpc.example"]
)
def test_public_rpc_url_offered_to_wallets_must_be_http(url):
    with pytest.raises(ValidationError, match="public_rpc_url"):
        make(public_rpc_url=url)
