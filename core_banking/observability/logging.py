"""Structured logs with structlog, as the deployment guide shows them.

One line per event, JSON by default (NEXUM_LOG_FORMAT=json) or plain text, at
NEXUM_LOG_LEVEL, to standard output and NEXUM_LOG_FILE when set. A JSON line carries
``timestamp`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, the request's
``request_id`` and ``user_id`` when there is one, and whatever the event adds
(``transaction_id``, ``account_id``, ``amount``, ``currency``, ``processing_time_ms`` …).

Personal data, passwords and tokens are never logged: the code does not pass them, and as
a last line of defence any field named like one is replaced by "[redacted]".
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
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
MAX_LOG_FILE_BYTES = 100 * 1024 * 1024
LOG_FILE_BACKUPS = 10


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event):
        if any(word in name.lower() for word in _SENSITIVE):
            event[name] = REDACTED
    return event


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
        handlers.append(
            logging.handlers.RotatingFileHandler(
                settings.log_file, maxBytes=MAX_LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS
            )
        )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(settings.log_level.value)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers.clear()
        logging.getLogger(noisy).propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True

    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


bind_request = structlog.contextvars.bind_contextvars
clear_request = structlog.contextvars.clear_contextvars
