"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from scheduler.clock import FakeClock
from storage.database import Database, normalize_url

# Hypothesis profiles. "ci" is the default (CI and `make test`): a fixed seed, and for the
# model-based fuzz (tests/e2e/test_fuzz.py) 300 sequences of up to 40 steps. "long" is run by
# hand: `pytest tests/e2e/test_fuzz.py --hypothesis-profile=long` (5,000 sequences); "quick"
# (20 sequences) is for trying a change to the fuzz itself.
_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=_FUZZ_HEALTH,
)
settings.register_profile(
    "long",
    max_examples=5_000,
    stateful_step_count=40,
    derandomize=False,
    deadline=None,
    suppress_health_check=_FUZZ_HEALTH,
)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=20)
settings.load_profile("ci")

PG_URL = os.environ.get("TEST_DATABASE_URL")
PG_SKIP_REASON = (
    "PostgreSQL tests need TEST_DATABASE_URL, "
    "e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

REDIS_URL = os.environ.get("TEST_REDIS_URL")
REDIS_SKIP_REASON = (
    "Redis tests (the shared Telegram budget) need TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0"
)


@pytest.fixture
def redis_url() -> str:
    """The Redis server of the shared-budget tests; the test is skipped without one."""
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP_REASON)
    return REDIS_URL


async def unmigrated_database(backend: str, tmp_path: Path) -> tuple[Database, str | None]:
    """An empty database never migrated: a SQLite file, or a fresh schema on PostgreSQL (its
    name returned, for ``drop_schema``)."""
    if backend == "sqlite":
        return Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"), None
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(normalize_url(PG_URL))
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return Database(PG_URL, connect_args={"server_settings": {"search_path": schema}}), schema


async def make_database(backend: str, tmp_path: Path) -> tuple[Database, str | None]:
    """A migrated, empty database: a SQLite file, or a fresh schema on PostgreSQL."""
    database, schema = await unmigrated_database(backend, tmp_path)
    await database.upgrade()
    return database, schema


async def drop_schema(schema: str) -> None:
    """Remove a test schema and everything in it."""
    assert PG_URL
    admin = create_async_engine(normalize_url(PG_URL))
    async with admin.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    database, schema = await make_database(request.param, tmp_path)
    try:
        yield database
    finally:
        await database.dispose()
        if schema:
            await drop_schema(schema)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-11-20 04:00 UTC (09:00 in Karachi), a Friday."""
    return FakeClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
