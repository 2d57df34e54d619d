"""Ids of alerts and events come from ``adapters.events.new_id``: random version 4 UUIDs
read from the kernel's random source 256 at a time (``uuid4()`` read it once an id)."""

from __future__ import annotations

import multiprocessing
import os
from uuid import RFC_4122, UUID

import pytest

from anbu_detector.adapters.events import new_id


def test_new_ids_are_distinct_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for made in ids[:600]:  # more than one block of the random source
        assert made.version == 4 and made.variant == RFC_4122
        assert UUID(str(made)) == made and hash(UUID(str(made))) == hash(made)
        assert isinstance(made, UUID)


def _child_id(queue: multiprocessing.Queue[str]) -> None:
    queue.put(str(new_id()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    """The block read ahead is the parent's: a child must read its own."""
    new_id()  # the parent has a block with ids left in it
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_child_id, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(timeout=30)
    assert from_child != str(new_id())
