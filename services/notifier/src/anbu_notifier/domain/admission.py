"""What a request must satisfy to be accepted; anything else is a contract violation.

The checks are the ones a producer can get wrong and a replay can fix once corrected: an
unknown template, a variable the template needs and the request lacks, a recipient
reference that does not say whose household or which person. Such a request goes to the
dead-letter topic (and is reported ``failed``) instead of being tried and retried.
"""

from __future__ import annotations

from anbu_contracts import Locale, NotificationRequest, RecipientKind

from .rendering import Renderer, TemplateError

HOUSEHOLD_SCOPED = frozenset(
    {
        RecipientKind.RESIDENT,
        RecipientKind.GUARDIAN,
        RecipientKind.LANDLORD,
        RecipientKind.NEIGHBOUR,
    }
)
# Variables the notifier supplies from the resolved recipient; a request need not send them.
RECIPIENT_VARIABLES = {"name": "-", "timezone": "Asia/Seoul"}


class RequestRejected(ValueError):
    """The request violates the notification contract; it is dead-lettered, not sent."""


def check(request: NotificationRequest, renderer: Renderer) -> None:
    """Raise :class:`RequestRejected` if ``request`` cannot be delivered as written."""
    recipient = request.recipient
    if recipient.kind in HOUSEHOLD_SCOPED and recipient.household_id is None:
        raise RequestRejected(f"a {recipient.kind.value} recipient needs a household_id")
    if recipient.kind is RecipientKind.STAFF and not recipient.ref:
        raise RequestRejected("a staff recipient needs a worker id in ref")
    locales = [request.locale] if request.locale else list(Locale)
    variables = {**RECIPIENT_VARIABLES, **request.variables}
    for locale in locales:
        try:
            renderer.render(request.template, locale, variables)
        except TemplateError as exc:
            raise RequestRejected(str(exc)) from exc
