"""The relayer's exceptions: one root, specific subclasses, mapped to HTTP status in one place."""


class RelayerError(Exception):
    """Root of every error the relayer raises on purpose."""


class ArtifactError(RelayerError):
    """A compiled contract artifact is missing or malformed (run `make compile`)."""
