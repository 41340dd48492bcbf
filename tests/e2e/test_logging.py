"""At LOG_LEVEL=DEBUG the log holds no patient words, invite code, staff reply, broadcast text
or token: the real bot over the stand-in, every record of every logger captured."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings, configure_logging
from bot.standin import StandIn
from scheduler.care.planning import QuietHours
from scheduler.clock import FakeClock
from storage.database import Database
from tests.e2e.harness import WAIT, BotHarness, begin, make_settings, press, say

pytestmark = pytest.mark.fast_chat

TOKEN = "987654321:AAHx7Qk2mVw9ZpLr3TnYc8BdFe5GsJuKi0o"
PATIENT_TEXT = "my lips are swelling and I cannot breathe, aardvark"
REPLY_TEXT = "Please come in now, bring your marmalade card"
BROADCAST_TEXT = "The clinic is closed on Friday for the pangolin festival"
OURS = {"bot", "scheduler", "storage", "content"}
LINK = re.compile(r"\?start=([A-Za-z0-9_-]+)")


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[logging.LogRecord]]:
    """Every record any logger handles (propagating or not), whatever handlers exist;
    the logging configuration is restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    captured: list[logging.LogRecord] = []
    original = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        captured.append(record)
        original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", handle)
    try:
        yield captured
    finally:
        monkeypatch.undo()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(saved_levels.get(name, logging.NOTSET))


@pytest.fixture
async def debug_bot(
    records: list[logging.LogRecord], database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """The product with a real-looking token, logging configured as `aftercare run` does."""
    settings: Settings = make_settings(tmp_path, log_level="DEBUG", telegram_bot_token=TOKEN)
    configure_logging(settings)
    async with StandIn(token=TOKEN, per_chat_rate=20.0, per_chat_burst=20) as standin:
        harness = BotHarness(standin, database, clock, settings)
        harness.per_chat_burst, harness.per_chat_interval = 20, 0.055
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()


def code_in(text: str | None) -> str:
    found = LINK.search(text or "")
    assert found, f"no invite link in {text!r}"
    return found.group(1)


async def test_debug_logging_keeps_patient_data_codes_and_the_token_out(
    debug_bot: BotHarness, records: list[logging.LogRecord]
) -> None:
    bot = debug_bot
    assert bot.runtime is not None
    clinic, staff_invite = await bot.runtime.services.clinics.create_clinic(
        name="North Clinic",
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=QuietHours.parse("21:00-08:00"),
    )
    admin = bot.chat(9001)
    admin.start(staff_invite.code)
    (welcome,) = await admin.wait_for(1, timeout=WAIT)
    assert "Welcome to the team" in welcome.text
    (photo,) = await say(admin, "/invite")
    patient_code = code_in(photo.caption)

    patient = bot.chat(101)
    await begin(patient, patient_code)
    await press(patient, "Yes, that's fine", replies=2)
    await press(patient, "Yesterday")
    patient.send(PATIENT_TEXT)
    await bot.standin.wait_until(
        lambda: any(m.text.startswith("🚨") for m in patient.messages),
        timeout=WAIT,
        what="the urgent answer",
    )
    (pushed,) = await admin.wait_for(1, timeout=WAIT)
    admin.press("💬 Reply", message=pushed)
    await admin.wait_for(1, timeout=WAIT)
    await say(admin, REPLY_TEXT)
    await bot.standin.wait_until(
        lambda: any(REPLY_TEXT in m.text for m in patient.messages),
        timeout=WAIT,
        what="the staff reply",
    )

    await say(admin, "/broadcast")
    await say(admin, BROADCAST_TEXT)
    await press(admin, "Every active patient")
    await press(admin, "📤 Send now")
    await bot.standin.wait_until(
        lambda: any(BROADCAST_TEXT in (m.text or "") for m in patient.messages),
        timeout=20,
        what="the broadcast",
    )
    await bot.standin.wait_until(
        lambda: any(m.text.startswith("✅ Broadcast finished") for m in admin.messages),
        timeout=20,
        what="the final report",
    )
    await bot.stop()

    secrets = {
        "the patient's words": "aardvark",
        "the staff invite code": staff_invite.code,
        "the patient link's code": patient_code,
        "the staff reply": "marmalade",
        "the broadcast": "pangolin",
        "the token": TOKEN,
        "the token's secret half": TOKEN.split(":")[1],
    }
    ours = [r for r in records if r.name.split(".")[0] in OURS]
    assert any(r.levelno == logging.INFO for r in ours), "our own INFO lines are logged"
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for what, secret in secrets.items():
            assert secret not in text, f"{what} reached the log via {record.name}: {text[:300]}"
    assert all(
        r.levelno >= logging.WARNING
        for r in records
        if r.name.split(".")[0] not in OURS or r.name.startswith("bot.standin")
    ), "libraries (and the stand-in, which plays Telegram) log at WARNING and above only"


@pytest.mark.parametrize(
    ("level", "switch", "ours", "libraries"),
    [
        ("DEBUG", False, logging.DEBUG, logging.WARNING),
        ("INFO", False, logging.INFO, logging.WARNING),
        ("ERROR", False, logging.ERROR, logging.ERROR),
        ("DEBUG", True, logging.DEBUG, logging.DEBUG),
    ],
)
def test_libraries_stay_at_warning_unless_the_documented_switch_is_set(
    records: list[logging.LogRecord],
    tmp_path: Path,
    level: str,
    switch: bool,
    ours: int,
    libraries: int,
) -> None:
    settings = make_settings(tmp_path, log_level=level, log_third_party_debug=switch)
    configure_logging(settings)
    for name in ("bot.handlers.other", "scheduler.outbox.sender", "storage.batching"):
        assert logging.getLogger(name).getEffectiveLevel() == ours
    for name in ("telegram.ext.ExtBot", "httpx", "aiosqlite", "sqlalchemy.engine.Engine",
                 "apscheduler.scheduler", "uvicorn.access", "asyncpg", "somelibrary.module",
                 "bot.standin.server"):  # fmt: skip
        assert logging.getLogger(name).getEffectiveLevel() == libraries, name
    warned = [r for r in records if "LOG_THIRD_PARTY_DEBUG" in r.getMessage()]
    if switch:
        (warning,) = warned
        assert warning.levelno == logging.WARNING and "patients' messages" in warning.getMessage()
    else:
        assert not warned


async def test_a_database_error_carries_no_sql_parameters(database: Database) -> None:
    """An exception logged with its traceback must not quote the values it tried to write."""
    from sqlalchemy import text
    from sqlalchemy.exc import StatementError

    async with database.session() as session:
        with pytest.raises(StatementError) as failed:
            await session.execute(
                text("INSERT INTO no_such_table (words) VALUES (:words)"),
                {"words": "aardvark swelling"},
            )
    assert "aardvark" not in str(failed.value)


def test_the_token_is_redacted_from_tracebacks_too(
    records: list[logging.LogRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An HTTP error's text quotes its URL, and a Bot API URL carries the token."""
    configure_logging(make_settings(tmp_path, telegram_bot_token=TOKEN))
    try:
        raise RuntimeError(f"404 for url 'https://api.telegram.org/bot{TOKEN}/getMe'")
    except RuntimeError:
        logging.getLogger("bot.application").exception("start failed for %s", TOKEN)
    written = capsys.readouterr().err
    assert "start failed for [redacted]" in written
    assert "/bot[redacted]/getMe" in written and "RuntimeError" in written
    assert TOKEN.split(":")[1] not in written
