"""The offline demo as a newcomer runs it: `aftercare` with no token, typing into the chat."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.demo import html_to_text, parse_travel
from content.texts import load_texts

pytestmark = pytest.mark.slow


def run_demo(tmp_path: Path, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="110", DATA_DIR=str(tmp_path / "data"))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [Path(sys.executable).parent / "aftercare", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_without_a_token_aftercare_runs_the_demo_and_reminders_arrive(tmp_path: Path) -> None:
    result = run_demo(tmp_path, ["/start", "1", "1", "yesterday", "/travel 2d", "/quit"])
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "offline demo" in out
    assert "not a diagnosis" in out
    assert "All set" in out
    assert out.count("[1] ✅ Done") >= 2, out  # reminders with their buttons arrived
    assert "delivery time(s) passed" in out
    assert (tmp_path / "data" / "demo.sqlite3").exists()
    log = (tmp_path / "data" / "demo.log").read_text()
    assert "yesterday" not in log  # no message text in the log


def test_the_demo_keeps_its_clock_and_data_and_reset_starts_over(tmp_path: Path) -> None:
    first = run_demo(tmp_path, ["/start", "1", "1", "press nothing", "today", "/travel 3d"], "demo")
    assert first.returncode == 0, first.stderr
    again = run_demo(tmp_path, ["/status"], "demo")
    assert "day 3" in again.stdout, again.stdout
    fresh = run_demo(tmp_path, ["/status"], "demo", "--reset")
    assert "We haven't met yet" in fresh.stdout


def test_bad_demo_input_gets_a_hint_not_a_crash(tmp_path: Path) -> None:
    result = run_demo(tmp_path, ["/travel soon", "7", "/sticker", "/now"])
    assert result.returncode == 0, result.stderr
    assert "Try /travel 6h" in result.stdout
    assert "There is no button 7" in result.stdout
    assert "text messages" in result.stdout


def test_travel_arguments() -> None:
    assert parse_travel("6h") is not None and parse_travel("6h").total_seconds() == 6 * 3600
    assert parse_travel("2 days") is not None and parse_travel("2 days").days == 2
    assert parse_travel("1w") is not None and parse_travel("1w").days == 7
    assert parse_travel("0h") is None
    assert parse_travel("999d") is None
    assert parse_travel("soon") is None


def test_html_is_shown_as_telegram_would() -> None:
    text = html_to_text("<b>Day</b> 1 &amp; <i>more</i>", "HTML")
    assert text.plain == "Day 1 & more"
    assert html_to_text("<b>raw</b>", None).plain == "<b>raw</b>"


def test_the_demo_walks_a_clinic_even_when_its_clock_runs_ahead(tmp_path: Path) -> None:
    # The demo's clock is weeks ahead of the wall clock: links made by /clinic follow it.
    result = run_demo(
        tmp_path,
        ["/travel 3w", "/clinic", "/join", "1", "1", "today", "/as clinic", "/patients", "/quit"],
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "Welcome to the team of Demo Clinic" in out  # the second chat became its admin
    assert "?start=" in out  # the patient link is shown
    assert "connected with Demo Clinic" in out or "at Demo Clinic" in out, out
    assert "expired" not in out
    assert "All set" in out
    assert "Total: 1" in out  # the admin sees the patient who joined
    code = out.split("?start=", 1)[1].split()[0]
    assert code not in (tmp_path / "data" / "demo.log").read_text()  # no invite code logged
    again = run_demo(tmp_path, ["/as clinic", "/alerts", "/quit"])
    assert "No open alerts" in again.stdout, again.stdout  # still the admin after a restart


def test_the_demo_shows_button_pop_ups_and_a_calendar_month_change(tmp_path: Path) -> None:
    today = datetime.now(ZoneInfo("Asia/Karachi")).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    result = run_demo(
        tmp_path,
        ["/start", "1", "1", "3", "1", "today", "/travel 1d", "1", "/quit"],
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert f"{last_month:%B %Y}" in out, out  # the calendar moved a month back, shown again
    assert "pop-up: ✅ Noted, well done!" in out, out  # "Done" on a reminder


@pytest.mark.parametrize(
    ("button", "yesterday", "words"),
    [
        # The language buttons: 1 English (ticked), 2 اردو, 3 Roman Urdu.
        ("2", "کل", ("آج آپ کا دن 1", "آپ کے آنے والے ریمائنڈر", "میں یہ کر سکتا ہوں")),
        ("3", "kal", ("aap ka din 1", "aane wale reminders", "Main yeh kar sakta hoon")),
    ],
)
def test_the_demo_speaks_urdu_and_roman_urdu(
    tmp_path: Path, button: str, yesterday: str, words: tuple[str, ...]
) -> None:
    result = run_demo(
        tmp_path, ["/start", button, "1", yesterday, "/travel 2d", "/plan", "/help", "/quit"]
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    for expected in words:
        assert expected in out, (expected, out)
    done = load_texts("ur" if button == "2" else "ur-Latn").plain("buttons.done")
    assert out.count(done) >= 2, out  # reminders with their "Done" buttons arrived
    assert "All set" not in out and "day 1 of your healing" not in out  # not in English


def test_the_demo_serves_its_clinics_dashboard(tmp_path: Path) -> None:
    """The demo says where the dashboard is; /dashboard gives the demo clinic's admin a link
    that signs in once, while the demo runs, and shows the patient who joined."""
    import re
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, COLUMNS="200", DATA_DIR=str(tmp_path / "data"), PORT=str(port))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        [Path(sys.executable).parent / "aftercare"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert demo.stdin is not None and demo.stdout is not None
    try:
        demo.stdin.write("/join\n1\n1\ntoday\n/dashboard\n")
        demo.stdin.flush()
        seen = ""
        link = None
        while link is None:
            line = demo.stdout.readline()
            assert line, f"the demo ended early: {seen}"
            seen += line
            found = re.search(rf"http://127\.0\.0\.1:{port}/dashboard/login\?t=\S+", line)
            link = found.group(0) if found else None
        assert f"http://127.0.0.1:{port}/dashboard" in seen  # said in the help panel
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            token = link.split("t=", 1)[1]
            page = browser.get(link)
            assert page.status_code == 200 and "Sign in" in page.text
            signed = browser.post("/dashboard/login", data={"t": token})
            assert signed.status_code == 303
            patients = browser.get("/dashboard/patients")
            assert "Demo Clinic" in patients.text
            assert patients.text.count('href="/dashboard/patients/') == 1
            assert browser.post("/dashboard/login", data={"t": token}).status_code == 400
        demo.stdin.write("/quit\n")
        demo.stdin.flush()
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
