"""Alembic environment: runs on the connection Database.upgrade() hands over, or on DATABASE_URL."""

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from storage.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our UTC column type as a plain timezone-aware DateTime: migrations stand alone."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        render_item=_render_item,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    from storage.database import Database

    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await database.dispose()


handed_over = config.attributes.get("connection")
if handed_over is not None:
    _run(handed_over)
else:
    asyncio.run(
        _run_on_url(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///data/aftercare.sqlite3"))
    )
