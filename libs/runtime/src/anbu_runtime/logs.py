"""Structured JSON logs, one event per line, with correlation ids and no personal data.

Services never pass personal data to a logger. As a second line of defence a processor
drops fields named like personal data and masks anything shaped like a Korean phone
number, resident registration number or e-mail address before a line is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PII_KEYS = frozenset(
    {"name", "phone", "phone_number", "address", "email", "rrn", "resident_number", "full_name"}
)
_PATTERNS = (
    re.compile(r"\b\d{6}-?[1-8]\d{6}\b"),  # resident registration number
    re.compile(r"\b01[016789][- ]?\d{3,4}[- ]?\d{4}\b"),  # mobile phone
    re.compile(r"\b0\d{1,2}[- ]\d{3,4}[- ]\d{4}\b"),  # landline
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail
)


def scrub(text: str) -> str:
    """``text`` with anything shaped like a phone number, RRN or e-mail masked."""
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _drop_pii(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _PII_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = scrub(event_dict[key])
    return event_dict


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library (uvicorn, aiokafka) through one JSON renderer."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _drop_pii,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access", "httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind_correlation(correlation_id: str | None, causation_id: str | None = None) -> None:
    """Attach correlation ids to every log line written in the current context."""
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id, causation_id=causation_id)
