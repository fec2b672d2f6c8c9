"""The redaction every log record goes through: an RPC URL shows only scheme://host:port, and a
registered secret is replaced wherever it appears — in a message, in an argument, in a
traceback, in any letter case."""

import logging

import pytest

from relayer import redact

URL = "https://user:hunter2pass@eth.example.org:8443/v3/abcdef0123456789?apikey=qwerty123456#frag"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "https://eth.example.org:8443"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://[::1]:8545/key", "http://[::1]:8545"),
        ("not a url", "[redacted]"),
    ],
)
def test_an_rpc_url_is_shown_as_scheme_host_and_port_only(url, shown):
    assert redact.redact_url(url) == shown


def test_every_part_of_an_url_that_may_be_a_credential_is_a_secret():
    parts = redact.url_secrets(URL)
    for part in ("hunter2pass", "/v3/abcdef0123456789", "abcdef0123456789", "qwerty123456"):
        assert part in parts
    assert "eth.example.org" not in parts


def test_log_records_are_redacted_in_messages_arguments_and_tracebacks(caplog):
    redact.register(redact.url_secrets(URL))
    log = logging.getLogger("relayer.test_redact")
    caplog.set_level(logging.INFO, logger="relayer.test_redact")

    log.info("calling %s", URL)
    log.info("key ABCDEF0123456789 in capitals")
    log.warning("failed: %s", ConnectionError(f"Max retries exceeded with url: {URL}"))
    try:
        raise RuntimeError(f"node at {URL} refused")
    except RuntimeError:
        log.exception("unexpected")

    text = caplog.text
    for secret in ("abcdef0123456789", "qwerty123456", "hunter2pass"):
        assert secret not in text.lower()
    assert text.count("[redacted]") >= 4
    assert "calling [redacted]" in text
    assert "RuntimeError: node at [redacted] refused" in text


def test_numbers_in_log_arguments_stay_numbers(caplog):
    redact.register(["sentinel-value-1"])
    caplog.set_level(logging.INFO, logger="relayer.test_redact")
    logging.getLogger("relayer.test_redact").info("%d of %s", 3, "sentinel-value-1")
    (record,) = caplog.records
    assert record.args == (3, "[redacted]")
    assert record.getMessage() == "3 of [redacted]"
