"""Secrets out of every line the relayer writes: log records (messages, their arguments,
tracebacks), uncaught exceptions on any thread, and the error texts built from an RPC URL.

The relayer's secrets are its key, the keystore's password, the operator token, the database
URL's password and its RPC URL, which may carry a provider's API key in its path, query or
credentials: only `scheme://host:port` of it is ever shown. `protect(settings)` registers a
relayer's secrets; from then on a record factory rewrites every log record before any handler
sees it (so uvicorn's, web3's, urllib3's and a test's captured records alike), replacing each
registered value, in any letter case, with `[redacted]`. Over-redacting a harmless coincidence
is the accepted price.
"""

import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from relayer.settings import Settings

REDACTED = "[redacted]"
#: Shorter values are not registered: replacing them everywhere would garble ordinary text.
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
#: The registered secrets in lower case, longest first (so no part of a longer one is left).
_lowered: tuple[str, ...] = ()
_installed = False


def redact_url(url: str) -> str:
    """`scheme://host[:port]` of an URL: credentials, path, query and fragment dropped."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}" + (f":{port}" if port else "")


def url_secrets(url: str) -> list[str]:
    """The parts of an URL that may be a credential: the URL itself, its credentials, its path
    and each longer path segment, its query and each query value."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url]
    if parts.username:
        found.append(parts.username)
    if parts.password:
        found.append(parts.password)
    if parts.path not in ("", "/"):
        found += [parts.path, unquote(parts.path)]
        found += [segment for segment in parts.path.split("/") if segment]
    if parts.query:
        found += [parts.query, unquote(parts.query)]
        found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    if parts.fragment:
        found.append(parts.fragment)
    return found


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def register(values: Iterable[str]) -> None:
    """Add secrets to redact from now on (short and empty values are ignored)."""
    global _lowered
    with _lock:
        _secrets.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)
        _lowered = tuple(sorted({v.lower() for v in _secrets}, key=len, reverse=True))
    install()


def protect(settings: "Settings") -> None:
    """Register every secret of a relayer's settings (the key read from a keystore is
    registered by `protect_key` once decrypted)."""
    values = [settings.operator_token.get_secret_value(), *url_secrets(settings.rpc_url)]
    database_password = _password(settings.database_url)
    if database_password:
        values.append(database_password)
    for secret in (settings.private_key, settings.keystore_password):
        if secret is not None:
            values.append(secret.get_secret_value())
    register(values)
    if settings.private_key is not None:
        protect_key(settings.private_key.get_secret_value())


def protect_key(key: str | bytes) -> None:
    hexdigits = key.hex() if isinstance(key, bytes) else key.lower().removeprefix("0x")
    register([hexdigits, "0x" + hexdigits])


def redact(text: str) -> str:
    """`text` with every registered secret, in any letter case, replaced by `[redacted]`. Cheap
    for text holding none: one substring search per secret, a regular expression only for the
    secrets found."""
    secrets = _lowered
    if not secrets:
        return text
    lowered = text.lower()
    found = [s for s in secrets if s in lowered]
    if not found:
        return text
    return re.sub("|".join(map(re.escape, found)), REDACTED, text, flags=re.IGNORECASE)


def _clean(value: Any) -> Any:
    """A log argument with its secrets redacted; numbers and clean values are left as they are,
    so formatters that read the arguments (uvicorn's access log) keep working."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if not _lowered:
        return record
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    else:
        record.msg = _clean(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_clean(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _clean(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters use a record's exc_text when set, so the traceback is redacted once here.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    text = logging.Formatter().formatException((kind, value, tb))
    sys.stderr.write(redact(text) + "\n")


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def install() -> None:
    """Redact every log record and every uncaught exception's traceback from now on."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.setLogRecordFactory(_record_factory)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
