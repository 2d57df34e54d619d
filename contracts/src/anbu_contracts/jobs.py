"""Progress of long file work: a partner's signal file at the gateway, a household import at
the registry. The console shows it to operators beside the partner feeds."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from .envelope import Event, PartnerId, ShortText, UtcDatetime


class JobKind(StrEnum):
    PARTNER_FILE = "partner_file"  # a CSV/NDJSON file of signals sent to the gateway
    HOUSEHOLD_IMPORT = "household_import"  # a bulk household import at the registry


class JobProgress(Event):
    """Where one long job stands: sent when it starts, as it goes (at most every few
    seconds) and when it ends. The newest by ``updated_at`` wins; nothing personal, only
    counts."""

    type: Literal["ops.job"] = "ops.job"
    job_id: ShortText = Field(
        description="The gateway's submission id or the registry's import id."
    )
    kind: JobKind
    partner_id: PartnerId | None = Field(
        default=None, description="The partner whose file it is (partner files only)."
    )
    detail: ShortText | None = Field(
        default=None, description="What the job carries, e.g. the signal kind of a partner file."
    )
    state: ShortText = Field(description="The owning service's state, e.g. processing, completed.")
    finished: bool = Field(description="True once the job will not change any more.")
    succeeded: bool | None = Field(
        default=None, description="Once finished: whether it completed (false: failed, rejected)."
    )
    progress: float = Field(ge=0, le=1, description="Share of the input processed (0 to 1).")
    rows: int = Field(ge=0, description="Rows processed so far.")
    rejected: int = Field(default=0, ge=0, description="Rows refused so far.")
    rows_per_second: float | None = Field(default=None, ge=0)
    eta_seconds: float | None = Field(
        default=None, ge=0, description="Estimated seconds left (null when unknown or finished)."
    )
    started_at: UtcDatetime
    updated_at: UtcDatetime
