"""Databases for benchmarks: a migrated SQLite file, or a fresh schema on PostgreSQL."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import Database, normalize_url, redact_url

PG_URL_ENV = "TEST_DATABASE_URL"
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def pg_url_from(option: str | None) -> str | None:
    """The PostgreSQL URL given on the command line, else from TEST_DATABASE_URL, else None."""
    return option or os.environ.get(PG_URL_ENV) or None


@asynccontextmanager
async def migrated_database(
    backend: str, *, directory: Path, pg_url: str | None = None, **engine_options: Any
) -> AsyncIterator[Database]:
    """A migrated, empty database, removed afterwards (a file in ``directory``, or a schema)."""
    schema: str | None = None
    if backend == "sqlite":
        database = Database(sqlite_url(directory / "bench.sqlite3"), **engine_options)
    elif backend == "postgresql":
        if not pg_url:
            raise ValueError(f"PostgreSQL needs --pg-url or {PG_URL_ENV}")
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        await _admin(pg_url, f'CREATE SCHEMA "{schema}"')
        engine_options.setdefault("connect_args", {"server_settings": {"search_path": schema}})
        database = Database(pg_url, **engine_options)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    try:
        await database.upgrade()
        yield database
    finally:
        await database.dispose()
        if schema is not None and pg_url:
            await _admin(pg_url, f'DROP SCHEMA "{schema}" CASCADE')


async def server_facts(database: Database) -> list[tuple[str, str]]:
    """The server version of a PostgreSQL database, for the machine facts."""
    if not database.is_postgresql:
        return []
    async with database.engine.connect() as connection:
        version = (await connection.execute(text("SHOW server_version"))).scalar_one()
    return [("PostgreSQL server", f"{version} at {redact_url(database.url)}")]


async def _admin(pg_url: str, statement: str) -> None:
    engine = create_async_engine(normalize_url(pg_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def chosen_backends(
    parser: argparse.ArgumentParser, option: str, pg_option: str | None
) -> tuple[list[str], str | None]:
    """The backends asked for with ``--backends`` and the PostgreSQL URL; PostgreSQL is
    skipped with a note when no URL is known, and an empty choice is a usage error."""
    backends = [b.strip() for b in option.split(",") if b.strip()]
    if not backends or any(b not in BACKEND_NAMES for b in backends):
        parser.error("--backends: choose among sqlite, postgresql")
    pg_url = pg_url_from(pg_option)
    if "postgresql" in backends and not pg_url:
        backends.remove("postgresql")
        print(f"PostgreSQL skipped: no --pg-url and no {PG_URL_ENV}.", file=sys.stderr)
        if not backends:
            parser.error(f"PostgreSQL needs --pg-url or {PG_URL_ENV}")
    return backends, pg_url
