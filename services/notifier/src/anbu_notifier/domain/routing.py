"""Which channels to try for a recipient, in order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from anbu_contracts.notify import Channel

from .model import Recipient

# After what the request asked for and what the recipient prefers: richer and cheaper
# channels first, the embedded console sink last.
FALLBACK_ORDER: tuple[Channel, ...] = (
    Channel.ALIMTALK,
    Channel.SMS,
    Channel.EMAIL,
    Channel.WEBHOOK,
    Channel.CONSOLE,
)


def plan_channels(
    recipient: Recipient,
    *,
    requested: Sequence[Channel],
    enabled: Iterable[Channel],
    default: Channel,
    fallback_order: Sequence[Channel] = FALLBACK_ORDER,
) -> list[Channel]:
    """The channels to try, in order: requested, preferred, default, then the fallbacks.

    Only enabled channels that have an address for this recipient are kept; an empty plan
    means nobody can reach the recipient with this configuration.
    """
    usable = set(enabled)
    plan: list[Channel] = []
    for channel in (*requested, recipient.preferred_channel, default, *fallback_order):
        if channel in usable and channel not in plan and recipient.target(channel):
            plan.append(channel)
    return plan
