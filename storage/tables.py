"""Helpers shared by the repositories of several tables."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from storage.models import Base


def core_table(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements that need no ORM bookkeeping."""
    return cast(Table, model.__table__)
