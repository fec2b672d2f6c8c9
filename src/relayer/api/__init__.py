"""The relayer's HTTP API (FastAPI): one router module per concern under `relayer.api`."""
