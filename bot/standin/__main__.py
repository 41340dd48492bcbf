"""``python -m bot.standin --port 8081``: the stand-in on its own, logging every call."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.standin.server import StandIn


async def _serve(port: int, token: str) -> None:
    standin = StandIn(port=port, token=token)
    await standin.start()
    print(f"Telegram stand-in: {standin.base_url}{standin.token}/getMe  (Ctrl+C stops)")
    try:
        await asyncio.Event().wait()
    finally:
        await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_serve(args.port, args.token))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
