"""Keep secrets out of logs, exceptions, the call log, DuckDB and exports.

Two mechanisms, both applied by :func:`redact`:

* every :class:`exactsync.settings.Secret` (and every token a client obtains, via
  :func:`register_secret`) is remembered, and any occurrence of its value is replaced;
* query parameters and form fields that carry credentials by name (``consumer_secret``,
  ``code``, ``refresh_token``, ``oauth_signature``, …) are masked whatever their value.

:func:`install_log_filter` scrubs every log record of the process as it is created.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SENSITIVE_PARAMS",
    "register_secret",
    "redact",
    "redact_url",
    "RedactingFilter",
    "install_log_filter",
]

MASK = "********"
SENSITIVE_PARAMS = frozenset(
    {
        "access_token", "refresh_token", "id_token", "token", "code", "client_secret",
        "consumer_key", "consumer_secret", "oauth_signature", "oauth_consumer_key", "oauth_token",
        "password", "secret", "authorization", "api_key", "apikey",
    }
)
_MIN_LEN = 4  # never register trivially short values (they would mangle ordinary text)
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
#: Names that are credentials only as URL/form parameters (``?code=…`` is an OAuth authorization
#: code), while as JSON keys they are ordinary data (``"Code": "8000"`` is a GL account code).
_FORM_ONLY = frozenset({"code"})


def _names(names: frozenset[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_param_re = re.compile(
    r"(?i)\b(" + _names(SENSITIVE_PARAMS) + r")(=[\"']?)([^&\s\"',;]+)"
    r"|\b(" + _names(SENSITIVE_PARAMS - _FORM_ONLY) + r")([\"']?\s*:\s*[\"']?)([^&\s\"',;]+)"
)
_bearer_re = re.compile(r"(?i)\b(bearer|basic|oauth)\s+([A-Za-z0-9._~+/=!%\-,\"]+)")


def _plain_word(value: str) -> bool:
    """An ordinary word ("Tokens", "parameter", "register"), not a credential: letters only, one
    case or capitalised, at most 15 long. Credentials are longer or mix letters with digits and
    signs; a registered secret is masked by its value whatever it looks like."""
    word = value.rstrip(".,")
    return word.isalpha() and len(word) <= 15 and (word.islower() or word.isupper() or word.istitle())


def register_secret(value: str | None) -> None:
    """Remember a secret value so :func:`redact` removes it wherever it appears."""
    global _pattern
    if not value or len(value) < _MIN_LEN:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _pattern = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)))


def redact(text: object) -> str:
    """``text`` as a string with every known secret and credential parameter masked."""
    s = str(text)
    pattern = _pattern
    if pattern is not None:
        s = pattern.sub(MASK, s)
    # "Authorization: Bearer <token>": the scheme word first, or the parameter rule below would
    # mask only "Bearer" and leave the token.
    # A plain word after the scheme or after "secret:" is prose ("Bearer Tokens", "client_secret:
    # register the app"), which stays readable; "name=value" (a URL or form) and a quoted value (JSON)
    # are always masked.
    s = _bearer_re.sub(lambda m: m.group(0) if _plain_word(m.group(2)) else f"{m.group(1)} {MASK}", s)
    s = _param_re.sub(_mask_param, s)
    return s


def _mask_param(m: re.Match[str]) -> str:
    if m.group(1):
        return f"{m.group(1)}{m.group(2)}{MASK}"
    if not m.group(5).rstrip().endswith(('"', "'")) and _plain_word(m.group(6)):
        return m.group(0)
    return f"{m.group(4)}{m.group(5)}{MASK}"


def redact_url(url: str) -> str:
    """A URL with credential query parameters masked (for the call log)."""
    parts = urlsplit(url)
    if parts.query:
        query = [(k, MASK if k.lower() in SENSITIVE_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(query, safe="$'(),:*"))
    if parts.password or parts.username:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return redact(urlunsplit(parts))


class RedactingFilter(logging.Filter):
    """A handler filter doing the same scrubbing, for handlers set up outside exactsync."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


_installed = False


def _scrub(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # pragma: no cover - a broken format string still must not leak
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    return record


def install_log_filter() -> None:
    """Scrub every log record in this process, whoever logs it and whatever handles it.

    Installed as a log-record factory (so records of child loggers and third-party libraries
    are covered, which a logger-level filter would miss). Idempotent.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            return _scrub(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
