"""The one place that opens database connections and sessions, and migrates the schema."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_link

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration (a test checks it against Alembic's head): a start on a database
# already there reads one row and never imports Alembic (80 ms of a worker's start-up).
SCHEMA_HEAD = "0013_reminders_in_outbox"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 32


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for every transaction.

    pysqlite's lazy BEGIN lets two writers both start reading, then one fails with
    "database is locked" when it upgrades to a write lock, without waiting for the busy
    timeout. Taking the write lock at BEGIN makes concurrent writers queue instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READING):
            return  # Database.reading: each statement on its own, no write lock
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite_link.OneHopConnection):
            driver.begin_with_next_statement("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


_READING = "aftercare_reading"


def normalize_url(url: str | URL) -> URL:
    """Pick the async driver for plain URLs: postgres(ql):// uses asyncpg, sqlite:// aiosqlite."""
    parsed = make_url(url)
    drivers = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
    drivers["sqlite"] = "sqlite+aiosqlite"
    if parsed.drivername in drivers:
        parsed = parsed.set(drivername=drivers[parsed.drivername])
    return parsed


def redact_url(url: str | URL) -> str:
    """The URL with any password hidden, fit for a log line."""
    return make_url(url).render_as_string(hide_password=True)


_SQLITE_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_turn(key: str) -> asyncio.Lock:
    """The lock of one SQLite file on the running event loop."""
    locks = _SQLITE_TURNS.setdefault(asyncio.get_running_loop(), {})
    if key not in locks:
        locks[key] = asyncio.Lock()
    return locks[key]


class Database:
    """An async engine and its session factory for one ``DATABASE_URL``."""

    def __init__(self, url: str | URL, *, echo: bool = False, **engine_options: Any) -> None:
        """Create the engine; nothing connects until first use."""
        self.url = normalize_url(url)
        self.options = dict(engine_options)
        if self.is_sqlite:
            if self._is_sqlite_file:
                Path(self.url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:
            engine_options.setdefault("pool_pre_ping", True)
        # SQL parameters are patients' words and invite hashes: keep them out of the
        # messages of exceptions that get logged with their tracebacks.
        engine_options.setdefault("hide_parameters", True)
        if self.is_sqlite and self._is_sqlite_file:
            # Reads outside a transaction (``reading``) run side by side, up to one per update
            # in flight: keep that many connections (each with its thread) instead of opening
            # and closing SQLAlchemy's overflow ones over and over.
            engine_options.setdefault("pool_size", SQLITE_POOL_SIZE)
        if self.is_sqlite and "async_creator" not in engine_options:
            # one trip to SQLite's thread per statement (storage.sqlite_link)
            args, kwargs = self.url.get_dialect()().create_connect_args(self.url)
            engine_options["async_creator"] = partial(sqlite_link.connector, *args, **kwargs)
        self.engine = create_async_engine(self.url, echo=echo, **engine_options)
        if self.is_sqlite:
            _prepare_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Within a process, queueing for it on an asyncio lock
        # (one per file, shared by every Database on it) is fair and immediate; leaving it to
        # SQLite's busy handler makes waiters sleep in steps of up to 100 ms. Other processes
        # still queue through BEGIN IMMEDIATE and the busy timeout.
        self._sqlite_key = self.url.render_as_string() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.url.get_backend_name() == "sqlite"

    @property
    def _is_sqlite_file(self) -> bool:
        """A SQLite file named by its path (not in memory, not a ``file:`` URI)."""
        database = self.url.database or ""
        return database not in ("", ":memory:") and not database.startswith("file:")

    @property
    def is_postgresql(self) -> bool:
        """Whether this is PostgreSQL."""
        return self.url.get_backend_name() == "postgresql"

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """``async with database.session() as session:``; the caller owns its unit of work and
        commits it. Never open a second session inside one (on SQLite it would wait forever)."""
        if self._sqlite_key is None:
            return self._sessions()
        return self._sqlite_session(_sqlite_turn(self._sqlite_key))

    def reading(self) -> AbstractAsyncContextManager[AsyncSession]:
        """``async with database.reading() as session:`` for reads only, each statement seeing
        what was committed when it ran (the session never commits). On SQLite no transaction
        begins: a read takes neither the write lock nor this process's turn at it, as WAL
        lets it read while another connection writes. Elsewhere, an ordinary session."""
        if self._sqlite_key is None:
            return self._sessions()
        return self._sqlite_reading()

    @asynccontextmanager
    async def _sqlite_reading(self) -> AsyncIterator[AsyncSession]:
        async with self.engine.connect() as connection:
            await connection.execution_options(**{_READING: True})
            async with AsyncSession(bind=connection) as session:
                yield session

    @asynccontextmanager
    async def _sqlite_session(self, turn: asyncio.Lock) -> AsyncIterator[AsyncSession]:
        async with turn, self._sessions() as session:
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to ``revision`` (by default the newest); a database already
        at the newest is only read."""
        if revision == "head" and await self.current_revision() == SCHEMA_HEAD:
            return
        async with self.engine.begin() as connection:
            await connection.run_sync(_run_alembic_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at, or None before the first migration (read
        from Alembic's own table, without Alembic)."""
        try:
            async with self.engine.connect() as connection:
                found = await connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = [str(v) for v in found.scalars()]
        except DBAPIError:  # no table yet: never migrated
            return None
        return versions[0] if len(versions) == 1 else None

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for our migrations, bound to ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _run_alembic_upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
