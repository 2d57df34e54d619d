"""The detector's service layer, by use case.

- ``intake`` — the consumer's batches: heartbeats in memory, the rest through ``HANDLERS``
  (contract type → handler) in one unit of work;
- ``signals`` — each signal kind's rule (``@rule_for``), ``households`` — registry
  snapshots, ``absence`` — channel clocks that fell silent or came back;
- ``findings`` and ``alerts`` — findings into alerts, and how alerts end;
- ``protocols`` — escalations: start, due steps, outcomes, approvals, close;
- ``partitions`` — the index of the partitions this instance owns;
- ``service`` — :class:`Detector`, running each piece of work as one unit of work;
- ``claims`` — the households a unit of work in flight holds (the two lanes never
  interleave on one); ``priority`` — the bulk side waits while the lane has a batch in flight;
- ``unit`` — what a unit of work holds (``uow.repos``).
"""

from .service import Detector, repositories
from .unit import Setup, Stores

__all__ = ["Detector", "Setup", "Stores", "repositories"]
