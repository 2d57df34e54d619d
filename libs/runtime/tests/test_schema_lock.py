"""Replicas that start together take turns creating their schema (issue 17: a fresh-clone
`make test` failed with UniqueViolation on pg_type when two detector instances started)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text

from anbu_runtime.db import Database

pytestmark = pytest.mark.integration


def _metadata() -> MetaData:
    metadata = MetaData()
    for i in range(12):
        Table(f"thing_{i}", metadata, Column("id", Integer, primary_key=True), Column("v", String))
    return metadata


def _start_together(url: str, instances: int) -> list[BaseException]:
    metadata = _metadata()
    barrier = threading.Barrier(instances)
    errors: list[BaseException] = []

    def start() -> None:
        db = Database(url)
        try:
            barrier.wait()
            db.create_all(metadata)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start) for _ in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_four_instances_starting_together_on_postgresql_create_the_schema_once(
    postgres_url: str,
) -> None:
    for _ in range(10):
        schema = f"race_{uuid.uuid4().hex[:10]}"
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
        try:
            assert _start_together(url, 4) == []
            engine = create_engine(url)
            assert len(inspect(engine).get_table_names()) == 12
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def test_four_instances_starting_together_on_sqlite_create_the_schema_once(
    tmp_path: Path,
) -> None:
    for round_ in range(10):
        url = f"sqlite:///{tmp_path / f'race-{round_}.db'}"
        assert _start_together(url, 4) == []
