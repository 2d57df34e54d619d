"""Rows as PostgreSQL ``COPY ... FROM STDIN`` text, formatted where the rows are made.

psycopg's ``Copy.write_row`` formats every value in Python in the one process that writes
(a fifth of a bulk import's samples: docs/performance.md). The import's worker processes
format their batch here instead, one block of bytes a table, and the writer copies the
bytes as they are (:func:`copy_in`). The text format: cells separated by tabs, rows by
newlines, ``\\N`` for NULL, and backslash, tab, newline and carriage return escaped with a
backslash (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, time
from typing import Any, cast

import psycopg
from sqlalchemy import JSON, Table
from sqlmodel import Session

NULL = "\\N"
_SPECIAL = ("\\", "\t", "\n", "\r")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")  # bytes COPY or bytea would read otherwise
_JSON = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one a value


def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")).replace(
            "\r", "\\r"
        )
    return value


def _bytea(value: bytes) -> str:
    """bytea input in COPY text. ASCII (the outbox's JSON, nearly always) goes in bytea's
    escape format, as it is but for its backslashes (one becomes two for bytea, each of
    those two for COPY): half the size of hex, which anything else takes."""
    if value.isascii() and not _CONTROL.search(value):
        return value.decode("ascii").replace("\\", "\\\\\\\\")
    return "\\\\x" + value.hex()  # hex input, its backslash escaped for COPY


def _other(value: Any) -> str:
    """A value that is neither a string nor None."""
    kind = type(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is float:
        return repr(value)
    if kind is bytes:
        return _bytea(value)
    if isinstance(value, date | time):  # datetimes too; aware ones keep their offset
        stamp: str = value.isoformat()
        return stamp
    raise TypeError(f"no COPY text for {kind.__name__}")


def _column(values: list[Any], json_column: bool) -> list[str]:
    """One column's cells. Work is per column, not per value, where it can be: a column of
    one repeated value (a batch's timestamp, its constants) is formatted once, a column of
    strings is checked for anything to escape in one scan (it rarely has any), and a JSON
    value shared by many rows is encoded once."""
    if json_column:
        encoded: dict[int, str] = {}  # by identity: the values outlive this call
        cells = []
        for value in values:
            if value is None:
                cells.append(NULL)
                continue
            cell = encoded.get(id(value))
            if cell is None:
                cell = encoded[id(value)] = _text(_JSON(value))
            cells.append(cell)
        return cells
    first = values[0]
    if type(first) is not str and values.count(first) == len(values):
        return [NULL if first is None else _other(first)] * len(values)
    nulls = None in values
    try:
        strings = "\x00".join([v for v in values if v is not None] if nulls else values)
    except TypeError:  # not all strings: formatted one by one
        return _cells(values)
    if any(special in strings for special in _SPECIAL):
        return [NULL if v is None else _text(v) for v in values]
    return [NULL if v is None else v for v in values] if nulls else values


def _cells(values: list[Any]) -> list[str]:
    formatted: dict[tuple[type, Any], str] = {}
    cells = []
    for value in values:
        if type(value) is str:
            cells.append(_text(value))
        elif value is None:
            cells.append(NULL)
        elif type(value) is bytes:  # unique (the outbox's keys and values): not memoised
            cells.append(_bytea(value))
        else:
            key = (type(value), value)
            cell = formatted.get(key)
            if cell is None:
                cell = formatted[key] = _other(value)
            cells.append(cell)
    return cells


def copy_text(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[list[str], bytes]:
    """``rows`` (all with the same keys) as COPY text for ``table``: (columns, text).
    JSON columns take Python values, as :func:`anbu_runtime.db.bulk_insert` does."""
    if not rows:
        return [], b""
    columns = list(rows[0])
    return columns, copy_rows(table, columns, [tuple(row.values()) for row in rows])


def copy_rows(table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """``rows`` (tuples of the values of ``columns``, in that order) as COPY text."""
    if not rows:
        return b""
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cells = [
        _column(list(values), name in json_columns)
        for name, values in zip(columns, zip(*rows, strict=True), strict=True)
    ]
    lines = list(map("\t".join, zip(*cells, strict=True)))
    lines.append("")  # the last row ends with a newline too
    return "\n".join(lines).encode()


def copy_in(session: Session, table: Table, columns: list[str], text: bytes) -> None:
    """Copy ``text`` (from :func:`copy_text`) into ``table`` in the session's transaction."""
    if not text:
        return
    quoted = ", ".join(f'"{c}"' for c in columns)
    raw = cast("psycopg.Connection[Any]", session.connection().connection.dbapi_connection)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        copy.write(text)
