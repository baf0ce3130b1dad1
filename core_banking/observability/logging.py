"""Structured logs with structlog, as the deployment guide shows them.

One line per event, JSON by default (NEXUM_LOG_FORMAT=json) or plain text, at
NEXUM_LOG_LEVEL, to standard output and NEXUM_LOG_FILE when set. A JSON line carries
``timestamp`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, the request's
``request_id`` and ``user_id`` when there is one, and whatever the event adds
(``transaction_id``, ``account_id``, ``amount``, ``currency``, ``processing_time_ms`` …).

Personal data, passwords and tokens are never logged: the code does not pass them, and as
a last line of defence any field named like one is replaced by "[redacted]", and anything
shaped like a bearer token, a JWT, an API key or an email address is cut out of every text.
An exception is logged as ``exception``: its stack frames and types, never its message
(drivers and validators repeat the value they refused; the request id finds the request).
NEXUM_LOG_LEVEL=DEBUG is for Nexum's own loggers: libraries stay at INFO or above, because
their debug output carries data (aiosqlite logs every call with its SQL parameters and the
rows it returned). uvicorn's access log is off: "request completed" lines name the route
template, never the raw path or its query string.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

from core_banking.config import LogFormat, Settings

REDACTED = "[redacted]"
_SENSITIVE = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "cookie",
    "email",
    "phone",
    "given_name",
    "family_name",
    "full_name",
    "date_of_birth",
    "document",
    "master_key",
)


_SECRET_TEXT = re.compile(
    r"(?i:bearer)\s+[\w.~+/=-]+"  # an Authorization header's value
    r"|\beyJ[\w-]*\.[\w-]+\.[\w-]*"  # a JWT
    r"|\bnxk_[0-9a-f]{32}_[\w-]+"  # a Nexum API key
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an email address
)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in list(event.items()):
        if any(word in name.lower() for word in _SENSITIVE):
            event[name] = REDACTED
        elif isinstance(value, str):
            event[name] = _SECRET_TEXT.sub(REDACTED, value)
    return event


def _exception_types_only(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``exc_info`` becomes ``exception``: the traceback, each message replaced."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    error = exc_info if isinstance(exc_info, BaseException) else None
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        error = exc_info[1]
    if error is not None:
        event["exception"] = _traceback_without_messages(error)
    return event


def _traceback_without_messages(error: BaseException) -> str:
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and not any(seen is earlier for earlier in chain):
        chain.append(seen)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    parts: list[str] = []
    for cause in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n\n")
        kind = type(cause)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        parts += ["Traceback (most recent call last):\n", *traceback.format_tb(cause.__traceback__)]
        parts.append(f"{name}: {REDACTED}\n")
    return "".join(parts)


def _guide_field_names(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event["message"] = event.pop("event", "")
    event["level"] = str(event.get("level", "info")).upper()
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    _exception_types_only,
    _redact,
]


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (uvicorn, SQLAlchemy) through one format."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    final = [_guide_field_names, renderer] if settings.log_format is LogFormat.JSON else [renderer]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        # Every worker process appends to the same file, so none of them may rotate it:
        # logrotate does (deploy/logrotate/nexum), and each handler reopens the file when
        # it has been moved away.
        handlers.append(logging.handlers.WatchedFileHandler(settings.log_file))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    level = logging.getLevelNamesMapping()[settings.log_level.value]
    root.setLevel(max(level, logging.INFO))  # libraries' debug lines carry data
    logging.getLogger("core_banking").setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers.clear()
        logging.getLogger(noisy).propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True

    structlog.configure(
        # A line below the logger's level is dropped before any processor spends time on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


bind_request = structlog.contextvars.bind_contextvars
clear_request = structlog.contextvars.clear_contextvars
