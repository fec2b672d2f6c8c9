"""The relayer's exceptions: one root, specific subclasses, mapped to HTTP status in one place
(`relayer.api.errors`)."""

from typing import Any


class RelayerError(Exception):
    """Root of every error the relayer raises on purpose. `code` is the stable machine name that
    API clients see; `status` the HTTP status it maps to; `details`, if any, the machine-readable
    rest (the `details` of the API's error body)."""

    code = "relayer_error"
    status = 500
    #: Structured facts for API clients (the error body's `details`), never secrets: a list of
    #: field problems, or an object (a contract's custom error, see `Reverted`).
    details: Any = None

    def __init__(self, message: str = "", *, details: Any = None):
        super().__init__(message)
        if details is not None:
            self.details = details


class ArtifactError(RelayerError):
    """A compiled contract artifact is missing or malformed (run `make compile`)."""

    code = "artifact_error"


class ConfigError(RelayerError):
    """The relayer's settings or deployment file are unusable."""

    code = "config_error"


class DatabaseInUse(ConfigError):
    """The SQLite database is held by another relayer process (SQLite serves one)."""

    code = "database_in_use"


class InvalidInput(RelayerError):
    """A request that is well-formed JSON but asks for something impossible."""

    code = "invalid_input"
    status = 422


class BelowMinimum(InvalidInput):
    """A gasless claim for less than the relayer's minimum (claim it from the wallet instead)."""

    code = "claim_below_minimum"


class Unauthorized(RelayerError):
    code = "unauthorized"
    status = 401


class Forbidden(RelayerError):
    """A signature that does not come from the account it must come from."""

    code = "forbidden"
    status = 403


class NotFound(RelayerError):
    code = "not_found"
    status = 404


class Conflict(RelayerError):
    """The request clashes with what is already recorded (duplicate, wrong state)."""

    code = "conflict"
    status = 409


class TooManyRequests(RelayerError):
    """A limit of the relayer's own (a gasless claim rate or budget) refuses the request now;
    `retry_after` says, in seconds, when it would be taken."""

    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, retry_after: int, *, code: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if code is not None:
            self.code = code


class ChainError(RelayerError):
    """The chain or the node failed a call (refused the transaction, answered an error)."""

    code = "chain_error"
    status = 502


class NodeUnavailable(ChainError):
    """The node could not be reached, did not answer in time or answered with an HTTP error:
    try again later."""

    code = "node_unavailable"
    status = 503


class DatabaseUnavailable(RelayerError):
    """The database could not be reached or was too busy to answer: try again later."""

    code = "database_unavailable"
    status = 503


class Reverted(ChainError):
    """The contract refused the call: the request asks for something the contract forbids
    (more than is claimable, a used nonce…). `reason` is the decoded custom error, if ours."""

    code = "contract_reverted"
    status = 422

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def details(self) -> Any:
        """`{"error": name, "args": {name: value}}` for a custom error the ABI decodes (values as
        JSON-safe text: integers in decimal, bytes in 0x hex, addresses checksummed)."""
        as_details = getattr(self.reason, "as_details", None)
        return as_details() if callable(as_details) else None


class Unfunded(ChainError):
    """The relayer's key cannot pay for the transaction asked for: nothing is signed."""

    code = "relayer_unfunded"
    status = 503
