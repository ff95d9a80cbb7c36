"""One redaction for every URL, config and message that is logged, printed or stored.

Database and tracking URLs carry passwords (``postgresql+psycopg2://user:p%40ss@host/db``).
:func:`redact_url` hides the password of one URL; :func:`redact_config` does it for every URL
inside a config mapping before it is logged to MLflow; :func:`scrub` removes every registered
secret (raw, percent-encoded and decoded) from any text, and :class:`RedactingFilter` applies it
to every log record. The command line registers the secrets of its config and environment once
(:func:`register_secrets_of`), so a message built anywhere cannot leak them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

MASK = "***"
# Environment variables whose value is a URL (or a password) that may hold a secret.
SECRET_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
              "MLFLOW_REGISTRY_URI", "HEALTHSCORE_HISTORY_URL")
_MIN_SECRET = 3  # shorter strings would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()


def _split(url: str) -> tuple[str, str, str] | None:
    """(``scheme://``, userinfo, rest) of a URL with credentials, else None.

    With a password (``user:...@``) the userinfo ends at the *last* ``@``, so a raw ``@``,
    ``:`` or ``/`` in a password is still hidden completely (such a URL is refused by
    :func:`url_problem`, but its message and any log line stay safe). ``host:port/path@x`` is
    no password.
    """
    if "://" not in url:
        return None
    scheme, rest = url.split("://", 1)
    first_at = rest.find("@")
    if first_at == -1:
        return None
    before = rest[:first_at]
    if ":" not in before:  # a user without a password, or an '@' further in the path
        if any(ch in before for ch in "/?#"):
            return None
        return scheme + "://", before, rest[first_at + 1:]
    after_colon = before.split(":", 1)[1]
    port = after_colon.split("/", 1)[0]
    if "/" in after_colon and port.isdigit():  # host:port/path@... is no userinfo
        return None
    cut = rest.rfind("@")
    return scheme + "://", rest[:cut], rest[cut + 1:]


def url_password(url: str) -> str | None:
    """The password of a URL as written (percent-encoded or not), or None."""
    parts = _split(url)
    if parts is None or ":" not in parts[1]:
        return None
    return parts[1].split(":", 1)[1] or None


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``user:***@host``)."""
    parts = _split(url)
    if parts is None:
        return url
    head, userinfo, rest = parts
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{head}{user}:{MASK}@{rest}"


def without_credentials(url: str) -> str:
    """``url`` with its user and password left out (``scheme://host/...``), to call a server
    without sending them."""
    parts = _split(url)
    return url if parts is None else parts[0] + parts[2]


def url_problem(url: str) -> str | None:
    """Why a database/tracking URL cannot be parsed as meant, or None when it is fine.

    Reserved characters in a password must be percent-encoded (``@`` as ``%40``, ``:`` as
    ``%3A``, ``/`` as ``%2F``); a raw ``@`` or ``/`` makes the host part wrong.
    """
    parts = _split(url)
    if parts is None:
        return None
    password = parts[1].split(":", 1)[1] if ":" in parts[1] else ""
    if "@" in parts[1] or any(ch in password for ch in "/?#:"):
        return ("its user or password holds a raw '@', ':' or '/': percent-encode them in the "
                "URL ('@' as %40, ':' as %3A, '/' as %2F), e.g. with python -c \"import "
                "urllib.parse; print(urllib.parse.quote('PASSWORD', safe=''))\"")
    return None


def secret_forms(secret: str) -> set[str]:
    """Every spelling of a secret that may appear in text: as given, decoded, encoded."""
    forms = {secret, unquote(secret), quote(unquote(secret), safe=""),
             quote(unquote(secret), safe="@:/")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return {f for f in forms if len(f) >= _MIN_SECRET}


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`scrub` removes it from any text."""
    if secret:
        with _lock:
            _secrets.update(secret_forms(secret))


def register_url(url: str | None) -> None:
    """Remember the password of ``url`` (if it has one)."""
    if url:
        register_secret(url_password(url))


def registered_secrets() -> frozenset[str]:
    """The secrets registered so far (for tests)."""
    with _lock:
        return frozenset(_secrets)


def scrub(text: str) -> str:
    """``text`` with every URL password and registered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_config(value: Any) -> Any:
    """A copy of a config mapping (as dumped to JSON) with every URL password masked and keys
    named like a secret (password, secret, token) blanked."""
    if isinstance(value, Mapping):
        return {k: (MASK if _secret_key(k) and v else redact_config(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_config(v) for v in value]
    if isinstance(value, str):
        return scrub(redact_url(value))
    return value


def _secret_key(key: object) -> bool:
    name = str(key).lower()
    return any(word in name for word in ("password", "secret", "token"))


def urls_in_config(raw: Mapping[str, Any]) -> Iterable[str]:
    """Every string value holding ``://`` inside a config mapping."""
    stack: list[Any] = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str) and "://" in item:
            yield item


def register_secrets_of(raw: Mapping[str, Any]) -> None:
    """Register the passwords of every URL in a config mapping and in the environment."""
    for url in urls_in_config(raw):
        register_url(url)
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and "://" in value:
            register_url(value)
        elif value and name.endswith(("PASSWORD", "TOKEN")):
            register_secret(value)


class RedactingFilter(logging.Filter):
    """Scrubs registered secrets from every log record (message and arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, scrubbed; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not a secret
            return True
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
