"""A database made by ``create_all`` (no version table) is adopted at the revision it is at.

A two-revision migrations package is written for the test: 0001 makes ``visit(id)``, 0002
adds ``visit.note``. Runs on SQLite and PostgreSQL (``database_url``).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text

from anbu_runtime.db import Database
from anbu_runtime.migrations import Migrations, schema_drift
from anbu_runtime.outbox import install

REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
"""

FIRST = """\
    op.create_table("visit", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(), nullable=False),
    )"""
SECOND = """\
    with op.batch_alter_table("visit") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=True))"""


def models(*, with_note: bool) -> MetaData:
    metadata = MetaData()
    columns = [Column("id", Integer, primary_key=True)]
    if with_note:
        columns.append(Column("note", String, nullable=True))
    Table("visit", metadata, *columns)
    return metadata


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    name = f"adoption_{uuid4().hex[:8]}"
    root = tmp_path / name
    (root / "versions").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "env.py").write_text(
        textwrap.dedent(f"""\
            from anbu_runtime.migrations import run_env
            from {name}.models import metadata
            run_env(metadata)
        """)
    )
    (root / "models.py").write_text(
        "from sqlalchemy import Column, Integer, MetaData, String, Table\n"
        "metadata = MetaData()\n"
        'Table("visit", metadata, Column("id", Integer, primary_key=True),'
        ' Column("note", String, nullable=True))\n'
    )
    registry_mako = (
        Path(__file__).parents[3] / "services/registry/src/anbu_registry/migrations/script.py.mako"
    )
    (root / "script.py.mako").write_text(registry_mako.read_text())
    (root / "versions" / "0001_first.py").write_text(
        REVISION.format(rev="0001", down="None", body=FIRST)
    )
    (root / "versions" / "0002_note.py").write_text(
        REVISION.format(rev="0002", down='"0001"', body=SECOND)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def version(db: Database) -> str:
    with db.engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


def made_by_create_all(url: str, *, with_note: bool) -> Database:
    db = Database(url)
    metadata = models(with_note=with_note)
    install(metadata)
    metadata.create_all(db.engine)
    return db


def columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("visit")}


def test_a_database_made_by_create_all_from_todays_models_is_stamped_at_head(
    database_url: str, package: str
) -> None:
    db = made_by_create_all(database_url, with_note=True)

    Migrations(package).upgrade(db)  # 0002 again would fail: the column exists

    assert version(db) == "0002"
    assert columns(db) == {"id", "note"}
    assert schema_drift(db, models(with_note=True)) == []


def test_a_database_made_by_create_all_before_migrations_is_stamped_at_the_first_and_migrated(
    database_url: str, package: str
) -> None:
    db = made_by_create_all(database_url, with_note=False)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO visit (id) VALUES (7)"))

    Migrations(package).upgrade(db)

    assert version(db) == "0002"
    assert columns(db) == {"id", "note"}
    with db.engine.connect() as connection:  # adopted, not re-created
        assert connection.execute(text("SELECT id FROM visit")).scalars().all() == [7]
