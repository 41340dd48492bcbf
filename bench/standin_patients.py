"""The Bot API stand-in and the patients who talk to it, in a process of their own.

    .venv/bin/python -m bench.standin_patients --patients 300

With the real Telegram, the Bot API is not in the bot's process: here the stand-in (the same
``bot.standin`` that ``python -m bot.standin --port N`` serves) runs in this process, so the
bot's process measures only the bot. ``bench.bot_registration`` starts it and steers it over
its standard input and output, one line each way:

    -> ready <base_url> <base_file_url> <token>   once serving, the chats created
    <- step <text or button number>      every patient sends it (``start`` is /start)
    -> done                              once every patient has had a reply to it
    <- quit
    -> cpu <seconds>                     this process's CPU time while stepping; then it exits

Telegram's rate limits are off, as in the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bot.standin import StandIn

FIRST_CHAT = 100_000


async def _line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


def _say(line: str) -> None:
    print(line, flush=True)


async def serve(patients: int, step_timeout: float) -> None:
    """Serve the stand-in and play ``patients`` patients, step by step, as told."""
    async with StandIn(global_rate=None, per_chat_rate=None) as standin:
        chats = [standin.private_chat(FIRST_CHAT + i) for i in range(patients)]
        _say(f"ready {standin.base_url} {standin.base_file_url} {standin.token}")
        expected = 0
        cpu = 0.0
        while (command := await _line()) not in ("quit", ""):
            _, _, step = command.partition(" ")
            started = time.process_time()
            for chat in chats:
                if step == "start":
                    chat.start()
                else:
                    chat.press(int(step) if step.isdigit() else step)
            expected += patients
            # one waiter for all chats: a thousand waiters would cost more than the bot does
            await standin.wait_until(lambda n=expected: len(standin.messages) >= n, step_timeout)
            cpu += time.process_time() - started
            _say("done")
        _say(f"cpu {cpu:.6f}")


def main() -> None:
    """Parse the arguments and serve until told to quit."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step")
    args = parser.parse_args()
    asyncio.run(serve(args.patients, args.timeout))


if __name__ == "__main__":
    main()
