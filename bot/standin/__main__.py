"""``python -m bot.standin --port 8081``: the stand-in on its own, logging every call.

Point a bot at ``http://127.0.0.1:8081/bot`` (base_url) and act as a user over HTTP:

    curl '127.0.0.1:8081/_standin/1001/send?text=/start'
    curl '127.0.0.1:8081/_standin/1001/press?button=0'
    curl '127.0.0.1:8081/_standin/1001/messages'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from bot.standin.server import StandIn


async def _serve(args: argparse.Namespace) -> None:
    standin = StandIn(
        port=args.port,
        token=args.token,
        host=args.host,
        per_chat_rate=None if args.no_limits else 1.0,
        global_rate=None if args.no_limits else 30,
        group_rate_per_minute=None if args.no_limits else 20,
    )
    async with standin:
        for chat_id in args.chat:
            standin.private_chat(chat_id)
        print(f"Telegram stand-in: base_url {standin.base_url}  token {standin.token}")
        print(f"  try: curl {standin.base_url}{standin.token}/getMe   (Ctrl+C stops)")
        await asyncio.Event().wait()


def main() -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument(
        "--chat", type=int, action="append", default=[], help="a private chat id to create"
    )
    parser.add_argument("--no-limits", action="store_true", help="switch the rate limits off")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("bot.standin").setLevel(logging.DEBUG)  # every call, with its text
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
