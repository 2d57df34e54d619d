"""The roster in memory, indexed by role and area, for assignment without a database scan.

The registry's worker snapshots are cached durably (``roster_worker``); this index is
rebuilt from that table at start and kept current as snapshots arrive, so choosing
candidates for a slot reads a handful of workers instead of the whole roster.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

from anbu_contracts import Role, WorkerSnapshot


class Roster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[str, WorkerSnapshot] = {}
        self._by_dong: dict[tuple[Role, str], set[str]] = defaultdict(set)
        self._by_district: dict[tuple[Role, str], set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._workers)

    def put(self, worker: WorkerSnapshot) -> None:
        """Add or replace a worker (the caller has checked the revision)."""
        with self._lock:
            old = self._workers.get(worker.worker_id)
            if old is not None:
                self._index(old, remove=True)
            self._workers[worker.worker_id] = worker
            self._index(worker, remove=False)

    def put_all(self, workers: Iterable[WorkerSnapshot]) -> None:
        for worker in workers:
            self.put(worker)

    def get(self, worker_id: str) -> WorkerSnapshot | None:
        return self._workers.get(worker_id)

    def serving(self, role: Role, dong_code: str, *, district_wide: bool) -> list[WorkerSnapshot]:
        """Workers holding ``role`` in ``dong_code`` (and, if asked, anywhere in its
        district: critical tasks may go to on-duty staff outside their dongs)."""
        with self._lock:
            ids = set(self._by_dong.get((role, dong_code), ()))
            if district_wide:
                ids |= self._by_district.get((role, dong_code[:5]), set())
            return [self._workers[i] for i in sorted(ids)]

    def _index(self, worker: WorkerSnapshot, *, remove: bool) -> None:
        for role in worker.roles:
            for dong in worker.dong_codes:
                for index, key in ((self._by_dong, dong), (self._by_district, dong[:5])):
                    bucket = index[(role, key)]
                    if remove:
                        bucket.discard(worker.worker_id)
                    else:
                        bucket.add(worker.worker_id)
