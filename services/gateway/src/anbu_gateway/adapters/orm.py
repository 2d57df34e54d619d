"""The gateway's own tables (its own SQLModel registry, apart from other services').

- ``submission_log``: one row per partner observation ever accepted, keyed by partner and
  partner event id, with its publication status. It is what makes resends idempotent and
  what a restarted gateway reconciles.
- ``submission``: one CSV file and its durable progress.
- ``invitation``, ``report``, ``report_read``: the human safety net's reporter form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the gateway's tables."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class SubmissionLogRow(Table, table=True):
    __tablename__ = "submission_log"
    __table_args__ = (
        # Only pending rows are looked up by time (the sweeper): a small partial index.
        Index(
            "ix_submission_log_pending",
            "attempted_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    partner_id: str = Field(primary_key=True, max_length=64)
    partner_event_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32)
    digest: str = Field(max_length=16)  # content digest: tells a resend from a reused id
    status: str = Field(max_length=10)  # pending | published
    owner: str = Field(max_length=40)  # submission id, request id or report reference
    line: int | None = None  # the line in its file (files only)
    attempted_at: datetime = Field(sa_column=_tz(False))  # real time of the last send
    # The serialised signal, kept for records without a file to read them again from
    # (single signals, batches, reports) so that a pending one can be published later.
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class SubmissionRow(Table, table=True):
    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("partner_id", "kind", "mode", "file_sha256", name="uq_submission_file"),
        Index("ix_submission_state", "state"),
    )

    submission_id: str = Field(primary_key=True, max_length=32)
    partner_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)
    mode: str = Field(max_length=16)
    encoding: str = Field(max_length=16)
    encoding_detected: bool = False
    file_sha256: str = Field(max_length=64)
    file_bytes: int
    file_lines: int
    file_path: str = Field(max_length=500)
    rate_limit_per_minute: int
    state: str = Field(max_length=12)
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    published: int = 0
    cursor_line: int = 0
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    errors_truncated: bool = False
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 0
    processing_seconds: float = 0.0
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))
    finished_at: datetime | None = Field(default=None, sa_column=_tz())
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = Field(default=None, sa_column=_tz())


class InvitationRow(Table, table=True):
    __tablename__ = "invitation"

    invitation_id: str = Field(primary_key=True, max_length=32)
    token_digest: str = Field(max_length=64, unique=True)  # SHA-256 of the link's token
    reporter_id: str = Field(max_length=64, index=True)
    reporter_role: str = Field(max_length=32)
    dong_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=_tz(False))
    expires_at: datetime = Field(sa_column=_tz(False))
    revoked_at: datetime | None = Field(default=None, sa_column=_tz())
    last_used_at: datetime | None = Field(default=None, sa_column=_tz())


class ReportRow(Table, table=True):
    __tablename__ = "report"

    reference: str = Field(primary_key=True, max_length=32)
    invitation_id: str = Field(max_length=32, index=True)
    reporter_id: str = Field(max_length=64, index=True)
    reporter_role: str = Field(max_length=32)
    lookup_kind: str = Field(max_length=16)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    dong_code: str | None = Field(default=None, max_length=10)
    category: str = Field(max_length=32)
    urgency: str = Field(max_length=16)
    # Free text and the address a reporter typed: kept here, never published or logged.
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    address: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    submitted_at: datetime = Field(sa_column=_tz(False))
    matched_by: str | None = Field(default=None, max_length=128)
    marked_invalid: bool = False
    review_reason: str | None = Field(default=None, max_length=300)
    reviewed_by: str | None = Field(default=None, max_length=128)
    reviewed_at: datetime | None = Field(default=None, sa_column=_tz())


class ReportReadRow(Table, table=True):
    """Every read of a report's free text: who, when (PIPA: log every access)."""

    __tablename__ = "report_read"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, index=True)
    reader: str = Field(max_length=128)
    at: datetime = Field(sa_column=_tz(False))
