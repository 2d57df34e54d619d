"""Structured JSON logs, one event per line, with correlation ids and no personal data.

Services never pass personal data to a logger. As a second line of defence a processor
drops fields named like personal data and masks anything shaped like a Korean phone
number, resident registration number or e-mail address before a line is written.

Errors are the usual way record values escape: a pydantic ``ValidationError`` prints every
offending input (``input_value='김철수'``). :func:`describe_error` is the text of an error
that may leave the process (a log line, a dead-letter header): field locations, error types
and messages, never input values. Logged tracebacks are rendered with it too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog
from pydantic import ValidationError

_PII_KEYS = frozenset(
    {"name", "phone", "phone_number", "address", "email", "rrn", "resident_number", "full_name"}
)
_PATTERNS = (
    re.compile(r"\b\d{6}-?[1-8]\d{6}\b"),  # resident registration number
    re.compile(r"\b01[016789][- ]?\d{3,4}[- ]?\d{4}\b"),  # mobile phone
    re.compile(r"\b0\d{1,2}[- ]\d{3,4}[- ]\d{4}\b"),  # landline
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail
)
# pydantic's rendering of a validation error: the input sits between these two markers.
_PYDANTIC_INPUT = re.compile(r"input_value=.*?, input_type=", re.DOTALL)
# Error types whose pydantic message quotes the input itself; their message is replaced.
_MESSAGES_QUOTING_INPUT = {
    "union_tag_invalid": "Input tag does not match any of the expected tags",
    "union_tag_not_found": "Unable to extract the tag from the input",
}
_ERROR_TEXT_LIMIT = 2000


def scrub(text: str) -> str:
    """``text`` with anything shaped like a phone number, RRN, e-mail or pydantic input masked."""
    text = _PYDANTIC_INPUT.sub("input_value=[redacted], input_type=", text)
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def describe_error(exc: BaseException) -> str:
    """``exc`` as one line that names what was wrong but holds no value of the input.

    A validation error lists each error's location, type and message (pydantic's rendering
    would quote the offending inputs); a JSON or UTF-8 decoding error says where decoding
    stopped. Any other error keeps the first line of its message — the exception chain and
    the detail lines (SQL parameters, ``DETAIL: Key (...)=(...)``) are left out — scrubbed of
    anything shaped like a phone number, resident number or e-mail.
    """
    name = type(exc).__name__
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "(record)"
            message = _MESSAGES_QUOTING_INPUT.get(error["type"], error["msg"])
            parts.append(f"{where}: {message} [type={error['type']}]")
        text = f"{name}: {exc.error_count()} error(s) for {exc.title}: " + "; ".join(parts)
    elif isinstance(exc, json.JSONDecodeError):
        text = f"{name}: {exc.msg} at line {exc.lineno} column {exc.colno}"
    elif isinstance(exc, UnicodeDecodeError):
        text = f"{name}: {exc.reason} at byte {exc.start}"
    else:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{name}: {first_line}" if first_line else name
    return scrub(text)[:_ERROR_TEXT_LIMIT]


def _format_exception(exc_info: Any) -> str:
    """A logged traceback with each exception's message as :func:`describe_error` gives it.

    The stack (files, lines, code) is kept; exception messages are not, because a
    ``ValidationError`` raised while decoding a record would print the record's values.
    """
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if not isinstance(exc, BaseException):
        return ""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception:"
        else:
            current = None
    lines: list[str] = []
    for index, (error, _) in enumerate(reversed(chain)):
        if index:
            lines.append(f"\n{chain[len(chain) - index][1]}\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
        lines.append(describe_error(error) + "\n")
    return "".join(lines).rstrip("\n")


def _drop_pii(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _PII_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = scrub(event_dict[key])
    return event_dict


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stdout`` as it is when a record is emitted, not as it was when logging
    was configured (like the standard library's last-resort handler for stderr).

    Whoever swaps ``sys.stdout`` (pytest's capture, per test) would otherwise leave the
    handler writing into a closed file: a later line from a background task — aiokafka
    failing to connect after its test ended — became a "Logging error" traceback.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stdout


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
        structlog.processors.ExceptionRenderer(_format_exception),
        _drop_pii,
    ]
    structlog.configure(
        # The level first: a line below it is dropped before the processors run (the PII
        # scrub's regular expressions ran on every suppressed debug line: py-spy, an alert
        # storm's worker thread).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
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
    handler = _StdoutHandler()
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
