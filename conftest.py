"""Fixtures shared by every test directory: the real broker and the real PostgreSQL.

`make test` starts a fresh broker and cluster and exports ANBU_TEST_KAFKA and
ANBU_TEST_POSTGRES_URL. Run pytest on its own and these fixtures start them through the same
deploy scripts (on the test ports, under var/test/).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TEST_VAR = ROOT / "var" / "test"
# Tests use short development tokens; every app and service process they start inherits this
# (a production process refuses them: CommonSettings.require_safe_secrets).
os.environ["ANBU_ENV"] = "dev"


def _script_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ANBU_KAFKA_PORT", "29092")
    env.setdefault("ANBU_KAFKA_DIR", str(TEST_VAR / "kafka"))
    env.setdefault("ANBU_PG_PORT", "55432")
    env.setdefault("ANBU_PG_DIR", str(TEST_VAR / "postgres"))
    return env


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A real Kafka broker with every topic of the registry created."""
    bootstrap = os.environ.get("ANBU_TEST_KAFKA")
    if not bootstrap:
        env = _script_env()
        subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start"], env=env, check=True)
        bootstrap = f"127.0.0.1:{env['ANBU_KAFKA_PORT']}"
        subprocess.run(
            [sys.executable, "-m", "anbu_runtime.topic_admin", "create", "--bootstrap", bootstrap],
            check=True,
        )
        os.environ["ANBU_TEST_KAFKA"] = bootstrap
    return bootstrap


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL database (SQLAlchemy URL)."""
    url = os.environ.get("ANBU_TEST_POSTGRES_URL")
    if not url:
        env = _script_env()
        script = str(ROOT / "deploy" / "postgres.sh")
        subprocess.run([script, "start"], env=env, check=True)
        url = subprocess.run(
            [script, "url"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        os.environ["ANBU_TEST_POSTGRES_URL"] = url
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a fresh SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    # A schema of its own per test keeps PostgreSQL tests independent.
    schema = f"t_{abs(hash(request.node.nodeid)) % 10**10}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    yield f"{url}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()
