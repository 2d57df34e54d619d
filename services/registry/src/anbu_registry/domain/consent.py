"""Consent per monitoring channel, with its full history.

Device and phone monitoring need the person's consent per channel; the newest record for a
channel decides, and withdrawal stops processing at once (the snapshot the detector reads
carries ``consent: false`` for the channel).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from anbu_contracts import ChannelEnrolment, MonitoringChannel


@dataclass(frozen=True)
class ConsentRecord:
    channel: MonitoringChannel
    given: bool
    at: datetime
    recorded_by: str
    form: str  # the form or document: "paper-2026-001", "verbal-phone", ...


def current_consent(history: Iterable[ConsentRecord]) -> dict[MonitoringChannel, bool]:
    """The standing consent of each channel that has any record: the newest one decides."""
    newest: dict[MonitoringChannel, ConsentRecord] = {}
    for record in history:
        seen = newest.get(record.channel)
        if seen is None or record.at >= seen.at:
            newest[record.channel] = record
    return {channel: record.given for channel, record in newest.items()}


def apply_consent(
    enrolments: list[ChannelEnrolment], consent: dict[MonitoringChannel, bool]
) -> list[ChannelEnrolment]:
    """Enrolments with each channel's consent flag set from the standing consent.

    A channel consented to but not yet enrolled is enrolled with the default window.
    """
    by_channel = {e.channel: e for e in enrolments}
    for channel, given in consent.items():
        existing = by_channel.get(channel)
        if existing is None:
            if given:
                by_channel[channel] = ChannelEnrolment(channel=channel, consent=True)
        else:
            by_channel[channel] = existing.model_copy(update={"consent": given})
    return [by_channel[c] for c in sorted(by_channel, key=lambda c: c.value)]
