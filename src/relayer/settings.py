"""The relayer's settings, read from the environment (prefix `RELAYER_`) and checked at start.

The union's address comes either from `RELAYER_CONTRACT_ADDRESS` or from the deployment file that
the deploy script writes (`RELAYER_DEPLOYMENT_FILE`, JSON with `chainId`, `union`, `token` and
`block`). The relayer's key comes from `RELAYER_PRIVATE_KEY` or from an encrypted keystore file
(`RELAYER_KEYSTORE_FILE` + `RELAYER_KEYSTORE_PASSWORD`). Secrets are `SecretStr`: they never show
in a repr, a log line or an error body.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relayer.attribution import (
    DEFAULT_RATES,
    DEFAULT_UNIQUENESS_BONUS,
    Parameters,
    normalized_address,
)
from relayer.errors import ConfigError, InvalidInput

#: Operator tokens that are refused however long they are: the ones people paste from examples.
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "secret",
    "password",
    "token",
    "example",
    "xxxx",
    "todo",
    "default",
)
MIN_TOKEN_LENGTH = 32
#: The contract's own limit on one postAttribution batch.
MAX_BATCH_SIZE = 500


#: The deploy script's output, as read from `deployments/<network>.json`.
Deployment = dict[str, Any]


#: The embedded default: a SQLite file in the working directory.
DEFAULT_DATABASE_URL = "sqlite:///relayer.db"


class DatabaseSettings(BaseSettings):
    """The one setting `relayer db` needs: a deploy's migration step runs without the signing
    key, the operator token or a node."""

    model_config = SettingsConfigDict(env_prefix="RELAYER_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    # No input in error texts: a validation error must never print a key or a token.
    model_config = SettingsConfigDict(
        env_prefix="RELAYER_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int = Field(gt=0)
    contract_address: str | None = None
    deployment_file: Path | None = None
    #: First block the indexer reads; defaults to the deployment block from the deployment file.
    start_block: int | None = Field(default=None, ge=0)
    database_url: str = DEFAULT_DATABASE_URL

    private_key: SecretStr | None = None
    keystore_file: Path | None = None
    keystore_password: SecretStr | None = None
    operator_token: SecretStr
    #: The key that pays for gasless claims, if not the attester's: a member's claims can then
    #: never drain the key that posts attribution. Same two forms as the attester key.
    claim_private_key: SecretStr | None = None
    claim_keystore_file: Path | None = None
    claim_keystore_password: SecretStr | None = None

    #: Blocks a log or receipt must be buried under before the relayer acts on it.
    confirmations: int = Field(default=2, ge=0, le=256)
    #: Members per postAttribution transaction.
    batch_size: int = Field(default=200, ge=1, le=MAX_BATCH_SIZE)
    #: Seconds to wait for a receipt before the same nonce is re-sent with a higher fee.
    tx_timeout: float = Field(default=60.0, gt=0)
    #: Percent added to both fee caps on every re-send (nodes require at least 10).
    fee_bump_percent: int = Field(default=20, ge=10, le=500)
    #: Ceiling on maxFeePerGas, in gwei, however often a transaction is re-priced.
    max_fee_gwei: Decimal = Field(default=Decimal(500), gt=0)
    #: Seconds between polls of the chain (receipts, new blocks).
    poll_interval: float = Field(default=0.5, gt=0)
    #: Longest wait for one transaction to be mined and buried (`relayer epoch post` and the
    #: API's posting give up after it, leaving the transaction in flight to be resumed).
    confirm_timeout: float = Field(default=600.0, gt=0)
    #: Longest pause between re-broadcasts of a transaction the node refuses (an underfunded
    #: key): the pause doubles from `poll_interval` up to this; the fee is never raised for it.
    send_backoff_max: float = Field(default=60.0, gt=0)
    #: How long a posting started through the API keeps retrying node failures (with back-off)
    #: before it gives up and shows the error on the epoch.
    post_retry_seconds: float = Field(default=300.0, ge=0)
    #: Transaction type: "auto" (EIP-1559 when the latest block has a base fee, else legacy),
    #: "eip1559" (type 2) or "legacy" (type 0, `gasPrice`) for chains without EIP-1559.
    tx_type: Literal["auto", "eip1559", "legacy"] = "auto"

    #: Gasless claim policy: what the relayer pays for is bounded before any gas is spent.
    #: Smallest amount relayed, in whole pool-token units (decimals allowed: "0.5").
    claim_min_amount: Decimal = Field(default=Decimal("0.01"), ge=0)
    #: Most claims relayed per member in any 24 hours.
    claim_max_per_member_per_day: int = Field(default=10, ge=0)
    #: Most the claim key may commit to gasless claims in any 24 hours, in the gas currency
    #: (each claim counted at its gas limit times its max fee per gas, so it is never overshot).
    claim_daily_gas_budget: Decimal = Field(default=Decimal("0.5"), ge=0)
    #: A key whose balance (in the gas currency) falls below these raises an alarm (an
    #: error-level log line and `GET /v1/status`), well before the node refuses its transactions.
    attester_alarm_balance: Decimal = Field(default=Decimal("0.05"), ge=0)
    claim_alarm_balance: Decimal = Field(default=Decimal("0.05"), ge=0)

    #: How stale a member read or a served proof may be: the chain head and the index position
    #: (relayer.reads), and the roots in force and pending (relayer.root_tree), are re-read at
    #: most this often (0: on every request).
    read_cache_seconds: float = Field(default=0.25, ge=0, le=60)

    #: Value per record by data type (JSON object in the environment) and the uniqueness bonus.
    rates: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_RATES), min_length=1)
    uniqueness_bonus: Decimal = DEFAULT_UNIQUENESS_BONUS

    #: A public RPC address the member page may offer a wallet that does not know the chain yet
    #: (`wallet_addEthereumChain`), with the network's name and gas currency. Never defaults to
    #: `rpc_url`, which may carry a provider's API key.
    public_rpc_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=200)
    chain_name: str = Field(default="", max_length=64)
    gas_currency: str = Field(default="ETH", min_length=2, max_length=6, pattern=r"^[A-Za-z]+$")

    #: Largest accepted request body, in bytes, and most contributions in one request.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_contributions_per_request: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("operator_token")
    @classmethod
    def _real_token(cls, token: SecretStr) -> SecretStr:
        value = token.get_secret_value()
        lowered = value.lower()
        if len(value) < MIN_TOKEN_LENGTH:
            raise ValueError(f"operator token must be at least {MIN_TOKEN_LENGTH} characters")
        if any(word in lowered for word in PLACEHOLDER_WORDS) or len(set(value)) < 8:
            raise ValueError("operator token looks like a placeholder; generate a random one")
        return token

    @field_validator("private_key")
    @classmethod
    def _whole_key(cls, key: SecretStr | None) -> SecretStr | None:
        """Exactly 32 bytes: a key with a digit cut off would otherwise be left-padded into
        another account's key without a word."""
        if key is None:
            return None
        digits = key.get_secret_value().strip()
        digits = digits[2:] if digits[:2].lower() == "0x" else digits
        if len(digits) != 64 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(
                f"the private key must be 32 bytes: 64 hex digits, with or without 0x "
                f"(this one has {len(digits)} characters)"
            )
        return key

    @field_validator("contract_address")
    @classmethod
    def _checksummed(cls, address: str | None) -> str | None:
        """Lower case is normalised to EIP-55; a mixed-case address with a bad checksum is a typo
        and is refused."""
        if address is None:
            return None
        try:
            return normalized_address(address)
        except InvalidInput:
            raise ValueError("contract address must be a 0x address (checksummed)") from None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if (self.contract_address is None) == (self.deployment_file is None):
            raise ValueError("set exactly one of RELAYER_CONTRACT_ADDRESS, RELAYER_DEPLOYMENT_FILE")
        if (self.private_key is None) == (self.keystore_file is None):
            raise ValueError("set exactly one of RELAYER_PRIVATE_KEY, RELAYER_KEYSTORE_FILE")
        if self.keystore_file is not None and self.keystore_password is None:
            raise ValueError("RELAYER_KEYSTORE_FILE needs RELAYER_KEYSTORE_PASSWORD")
        if self.claim_private_key is not None and self.claim_keystore_file is not None:
            raise ValueError(
                "set at most one of RELAYER_CLAIM_PRIVATE_KEY, RELAYER_CLAIM_KEYSTORE_FILE"
            )
        if self.claim_keystore_file is not None and self.claim_keystore_password is None:
            raise ValueError("RELAYER_CLAIM_KEYSTORE_FILE needs RELAYER_CLAIM_KEYSTORE_PASSWORD")
        try:
            self.parameters  # noqa: B018 - validates rates and bonus
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def parameters(self) -> Parameters:
        """The attribution parameters (rates, bonus) every report of this relayer states."""
        return Parameters.from_decimals(self.rates, self.uniqueness_bonus)

    def deployment(self) -> Deployment:
        """The deployment file's content (chain id checked), or one built from the address."""
        if self.deployment_file is None:
            assert self.contract_address is not None
            return {"chainId": self.chain_id, "union": self.contract_address, "block": 0}
        try:
            data: Deployment = json.loads(self.deployment_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read deployment file {self.deployment_file}: {exc}") from exc
        try:
            data["union"] = normalized_address(data["union"])
        except (TypeError, KeyError, InvalidInput):
            raise ConfigError(
                f"deployment file {self.deployment_file} names no union address"
            ) from None
        if data.get("chainId") != self.chain_id:
            raise ConfigError(
                f"deployment file is for chain {data.get('chainId')}, not {self.chain_id}"
            )
        return data

    @property
    def union_address(self) -> str:
        return str(self.deployment()["union"])

    @property
    def first_block(self) -> int:
        if self.start_block is not None:
            return self.start_block
        return int(self.deployment().get("block", 0))

    def signer(self) -> LocalAccount:
        """The relayer's attester account. Errors name the source, never the secret."""
        return _load_key("RELAYER", self.private_key, self.keystore_file, self.keystore_password)

    def claim_signer(self) -> LocalAccount | None:
        """The account that pays for gasless claims, or None to use the attester's."""
        if self.claim_private_key is None and self.claim_keystore_file is None:
            return None
        return _load_key(
            "RELAYER_CLAIM",
            self.claim_private_key,
            self.claim_keystore_file,
            self.claim_keystore_password,
        )


def _load_key(
    prefix: str,
    private_key: SecretStr | None,
    keystore_file: Path | None,
    password: SecretStr | None,
) -> LocalAccount:
    if private_key is not None:
        try:
            account: LocalAccount = Account.from_key(private_key.get_secret_value())
            return account
        except (ValueError, TypeError):
            raise ConfigError(f"{prefix}_PRIVATE_KEY is not a valid private key") from None
    assert keystore_file is not None
    assert password is not None
    try:
        keystore = json.loads(keystore_file.read_text())
        key = Account.decrypt(keystore, password.get_secret_value())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read keystore {keystore_file}: {exc}") from None
    except ValueError:
        raise ConfigError(f"cannot decrypt keystore {keystore_file}") from None
    account = Account.from_key(key)
    return account
