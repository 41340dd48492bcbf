"""The ``aftercare`` console script's entry: the CLI, imported with the collector paused.

Kept apart from ``bot.cli`` so that the pause covers that module's own imports too: a
worker restarting is ready sooner (``bench.startup``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def importing() -> Iterator[None]:
    """Heavy imports at start, with the garbage collector paused.

    Importing SQLAlchemy, the services and their models creates hundreds of thousands of
    objects and no garbage; each allocation counts toward a collection, so the collector
    walks the growing heap again and again for nothing (about 45 ms of a worker's start on
    a 2-core machine). It runs again as before once they are in.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def main() -> None:
    """Run the ``aftercare`` command line."""
    with importing():
        from bot.cli import main as cli

    cli()
