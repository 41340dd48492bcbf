"""Several processes sending with one bot token through one Telegram budget in Redis.

    .venv/bin/python -m bench.budget [--redis-url redis://127.0.0.1:6379/0] [--processes 3]
        [--rate 30] [--duration 10] [--margin 0.03] [--no-check]

Each process is a real OS process with its own ``TelegramBudget`` and its own Redis
connection, on one namespace (fresh for the run, removed after): a sender that does nothing
but wait for the budget and stamp the instant it was let through. In each process, 4 tasks
send reminders and 4 send broadcast copies without a pause (they always want more than the
cap), and one "patient" gets a reply every 0.3 s or so, so the cap is always contended.

Reported: the sends let through per priority; the achieved overall rate (sends whose stamp
falls in the measured span / its length); the busiest second of stamps and the busiest
100 ms (how bunched the sends leave); the slack (over every run of cap + 1 consecutive
stamps, how much more than a second it spans: how late a send may reach Telegram before it
counts cap + 1 in one second; the least and the 5th percentile); how long replies waited for
the budget (p50, p99). Targets: achieved ≤ the cap and ≥ 95 % of it; replies
p99 ≤ 1.5 s (the issue's target at the peak) while bulk fills the cap. Exits 1 when a
target is missed (``--no-check``: only print).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from bench.report import (
    Target,
    add_check_option,
    finish,
    machine_facts,
    percentile,
    print_facts,
    print_table,
)
from scheduler.outbox.budget import Priority, RedisBackend, TelegramBudget, open_backend

TARGET_SHARE = 0.95
REPLY_P99 = 1.5  # the target for conversation replies at the peak
BULK_TASKS = 4
REPLY_EVERY = 0.3


async def child(
    url: str, namespace: str, rate: float, margin: float, start: float, end: float
) -> None:
    """One process: send until ``end`` (wall clock, shared by every process); print JSON."""
    budget = TelegramBudget(open_backend(url, namespace=namespace), rate=rate, margin=margin)
    stamps: list[tuple[float, int]] = []
    reply_waits: list[float] = []

    async def bulk(priority: Priority) -> None:
        while time.time() < end:
            await budget.acquire(priority)
            stamps.append((time.time(), int(priority)))
            await budget.sent()

    async def replies() -> None:
        while time.time() < end:
            await asyncio.sleep(random.uniform(0.5, 1.5) * REPLY_EVERY)
            asked = time.time()
            await budget.acquire(Priority.REPLY)
            now = time.time()
            stamps.append((now, int(Priority.REPLY)))
            reply_waits.append(now - asked)
            await budget.sent()

    await asyncio.sleep(max(0.0, start - time.time()))
    tasks = [bulk(Priority.REMINDER) for _ in range(BULK_TASKS)]
    tasks += [bulk(Priority.BROADCAST) for _ in range(BULK_TASKS)]
    await asyncio.gather(*tasks, replies())
    await budget.close()
    json.dump({"stamps": stamps, "reply_waits": reply_waits}, sys.stdout)


@dataclass
class Result:
    processes: int
    rate: float
    duration: float
    sends: int
    by_priority: Counter[str]
    achieved: float
    busiest_second: int
    busiest_tenth: int
    slack_min: float
    slack_p5: float
    reply_p50: float
    reply_p99: float
    replies: int


async def clear(url: str, namespace: str) -> None:
    backend = open_backend(url, namespace=namespace)
    assert isinstance(backend, RedisBackend)
    await backend.clear()
    await backend.close()


def busiest(stamps: list[float], seconds: float) -> int:
    """The most ``stamps`` (sorted) in any span of ``seconds``."""
    most, low = 0, 0
    for high, stamp in enumerate(stamps):
        while stamp - stamps[low] >= seconds:
            low += 1
        most = max(most, high - low + 1)
    return most


def slack(stamps: list[float], cap: int) -> list[float]:
    """For each run of ``cap + 1`` consecutive ``stamps``, how far it spans beyond 1 s."""
    return [stamps[i + cap] - stamps[i] - 1.0 for i in range(len(stamps) - cap)]


def run(url: str, processes: int, rate: float, duration: float, margin: float) -> Result:
    namespace = f"aftercare-bench:{uuid.uuid4().hex}"
    start = time.time() + 2.0  # every process imported and connected before it
    end = start + duration
    command = [sys.executable, "-m", "bench.budget", "--child", "--redis-url", url]
    command += ["--namespace", namespace, "--rate", str(rate), "--margin", str(margin)]
    command += ["--start", repr(start), "--end", repr(end)]
    try:
        children = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)
        ]
        outputs = [json.loads(c.communicate(timeout=duration + 60)[0]) for c in children]
        if any(c.returncode for c in children):
            raise SystemExit("a sender process failed")
    finally:
        asyncio.run(clear(url, namespace))
    stamps = sorted(t for out in outputs for t, _ in out["stamps"])
    kinds = Counter(Priority(p).name.lower() for out in outputs for _, p in out["stamps"])
    waits = [w for out in outputs for w in out["reply_waits"]]
    in_span = [t for t in stamps if start <= t < end]
    slacks = slack(stamps, int(rate))
    return Result(
        processes=processes,
        rate=rate,
        duration=duration,
        sends=len(stamps),
        by_priority=kinds,
        achieved=len(in_span) / duration,
        busiest_second=busiest(stamps, 1.0),
        busiest_tenth=busiest(stamps, 0.1),
        slack_min=min(slacks, default=float("nan")),
        slack_p5=percentile(slacks, 5),
        reply_p50=percentile(waits, 50),
        reply_p99=percentile(waits, 99),
        replies=len(waits),
    )


def report(result: Result, url: str, *, check: bool) -> None:
    from scheduler.outbox.budget import redact

    print_facts("Machine", machine_facts([("Redis", redact(url))]))
    print_table(
        "One Telegram budget in Redis, shared by several processes",
        [
            "processes",
            "cap /s",
            "seconds",
            "sends",
            "reply",
            "reminder",
            "broadcast",
            "achieved /s",
            "of cap",
            "busiest second",
            "busiest 100 ms",
            "slack min ms",
            "slack p5 ms",
            "reply wait p50 ms",
            "p99 ms",
        ],
        [
            [
                result.processes,
                result.rate,
                result.duration,
                result.sends,
                result.by_priority["reply"],
                result.by_priority["reminder"],
                result.by_priority["broadcast"],
                result.achieved,
                f"{result.achieved / result.rate:.1%}",
                result.busiest_second,
                result.busiest_tenth,
                result.slack_min * 1000,
                result.slack_p5 * 1000,
                result.reply_p50 * 1000,
                result.reply_p99 * 1000,
            ]
        ],
        notes=[
            "achieved: sends stamped inside the measured span / its length (every process"
            " starts at one instant and stops at another);",
            "busiest second: most stamps in any 1 s; a stamp is taken a Redis round trip after"
            " the window counted the send, so it may show one over the cap at a window's edge;",
            "slack: over every cap + 1 consecutive stamps, their span minus 1 s: how late a send"
            " may reach Telegram (relative to the others) before it counts one too many"
            " (≤ 0: bunched at a window's edge);",
            "reply wait: from asking the budget to being let through, while bulk saturates it.",
        ],
        decimals=1,
    )
    scope = f"{result.processes} processes at {result.rate:g}/s for {result.duration:g} s"
    finish(
        [
            Target(
                "achieved ≤ the cap",
                scope,
                f"{result.achieved:.2f}/s",
                result.achieved <= result.rate,
            ),
            Target(
                f"achieved ≥ {TARGET_SHARE:.0%} of the cap",
                scope,
                f"{result.achieved:.2f}/s ({result.achieved / result.rate:.1%})",
                result.achieved >= TARGET_SHARE * result.rate,
            ),
            Target(
                f"reply wait p99 ≤ {REPLY_P99 * 1000:.0f} ms",
                f"{result.replies} replies",
                f"{result.reply_p99 * 1000:.0f} ms",
                result.reply_p99 <= REPLY_P99,
            ),
        ],
        check=check,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=30.0, help="the cap, messages a second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument(
        "--margin",
        type=float,
        default=0.03,
        help="share of the cap kept for the network (the product's NETWORK_MARGIN)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--end", type=float, help=argparse.SUPPRESS)
    add_check_option(parser)
    args = parser.parse_args()
    if args.child:
        asyncio.run(
            child(args.redis_url, args.namespace, args.rate, args.margin, args.start, args.end)
        )
        return
    result = run(args.redis_url, args.processes, args.rate, args.duration, args.margin)
    report(result, args.redis_url, check=not args.no_check)


if __name__ == "__main__":
    main()
