"""The notifier's use cases: accept (:mod:`.accept`), deliver (:mod:`.sending`, recording
through :mod:`.outcomes`), receipts (:mod:`.receipts`); :class:`Notifier` wires them."""

from ..domain.admission import RequestRejected
from .notifier import Notifier, steps
from .sending import Routing, Sender, Timing

__all__ = ["Notifier", "RequestRejected", "Routing", "Sender", "Timing", "steps"]
