"""A headless Chromium for the dashboard's browser tests, and the dashboard of the running bot
served over real HTTP.

Selenium is synchronous and the dashboard is served by the test's own event loop, so every
browser call runs in a thread (``Browser`` wraps the few the tests use). Screenshots of each
page at phone and desktop width go to ``screenshots/`` (ignored by git).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from bot.application import BotRuntime

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
DRIVER = shutil.which("chromedriver")
MISSING = (
    None
    if CHROMIUM and DRIVER
    else "needs a browser: Debian's chromium and chromium-driver packages "
    "(apt-get install chromium chromium-driver)"
)
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
WIDTHS = {"phone": (390, 844), "desktop": (1366, 900)}


def new_driver() -> Any:
    """A headless Chromium through chromium-driver (no browser download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and DRIVER is not None
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,900",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


class Browser:
    """The calls the tests make, each in a thread so the served dashboard keeps running."""

    def __init__(self, driver: Any, base: str) -> None:
        """Drive ``driver`` against the dashboard at ``base``."""
        self.driver = driver
        self.base = base

    async def go(self, url: str) -> None:
        """Open ``url`` (a path is taken relative to the dashboard's origin)."""
        await asyncio.to_thread(self.driver.get, url if "://" in url else self.base + url)

    async def click(self, css: str, *, navigates: bool = True) -> None:
        """Click the element ``css`` names; when it ``navigates`` (a link, a form's button),
        wait until the next page has replaced this one."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        def _click() -> None:
            page = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            if navigates:
                WebDriverWait(self.driver, 20).until(expected_conditions.staleness_of(page))
                WebDriverWait(self.driver, 20).until(
                    lambda d: d.execute_script("return document.readyState") == "complete"
                )

        await asyncio.to_thread(_click)

    async def fill(self, css: str, text: str) -> None:
        """Replace the value of the input ``css`` names."""
        from selenium.webdriver.common.by import By

        def _fill() -> None:
            field = self.driver.find_element(By.CSS_SELECTOR, css)
            field.clear()
            field.send_keys(text)

        await asyncio.to_thread(_fill)

    async def text(self, css: str = "main") -> str:
        """The visible text of ``css`` (read again if a page's script swaps it meanwhile)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        def _read() -> str:
            for _ in range(5):
                try:
                    return str(self.driver.find_element(By.CSS_SELECTOR, css).text)
                except StaleElementReferenceException:
                    continue
            return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

        return await asyncio.to_thread(_read)

    async def count(self, css: str) -> int:
        """How many elements ``css`` matches."""
        from selenium.webdriver.common.by import By

        return await asyncio.to_thread(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, css)))

    async def value(self, css: str) -> str:
        """The value of the input ``css`` names."""
        from selenium.webdriver.common.by import By

        return await asyncio.to_thread(
            lambda: str(self.driver.find_element(By.CSS_SELECTOR, css).get_attribute("value"))
        )

    async def choose(self, css: str, value: str) -> None:
        """Pick the option ``value`` of the select ``css`` names."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        await asyncio.to_thread(
            lambda: Select(self.driver.find_element(By.CSS_SELECTOR, css)).select_by_value(value)
        )

    async def wait_text(self, css: str, text: str, timeout: float = 20.0) -> None:
        """Wait until ``css`` shows ``text`` (a page's own script updates it)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        def shown(driver: Any) -> bool:
            try:
                return text in driver.find_element(By.CSS_SELECTOR, css).text
            except StaleElementReferenceException:  # the script swapped it in meanwhile
                return False

        def _wait() -> None:
            WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(shown)

        await asyncio.to_thread(_wait)

    async def url(self) -> str:
        """The address the browser shows."""
        return await asyncio.to_thread(lambda: str(self.driver.current_url))

    async def console_errors(self) -> list[str]:
        """Errors the page logged (a CSP violation shows up here)."""
        logs = await asyncio.to_thread(self.driver.get_log, "browser")
        return [entry["message"] for entry in logs if entry.get("level") == "SEVERE"]

    async def shoot(self, name: str) -> None:
        """Screenshots of the current page at phone and desktop width, whole page tall."""

        def _shoot() -> None:
            SHOTS.mkdir(exist_ok=True)
            for label, (width, height) in WIDTHS.items():
                self.driver.set_window_size(width, height)
                full = self.driver.execute_script("return document.documentElement.scrollHeight")
                self.driver.set_window_size(width, max(height, int(full)))
                self.driver.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
            self.driver.set_window_size(*WIDTHS["desktop"])

        await asyncio.to_thread(_shoot)


class _InnerServer(uvicorn.Server):
    """uvicorn inside the test's loop, leaving the signal handlers to pytest."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing."""
        yield


@asynccontextmanager
async def served(runtime: BotRuntime) -> AsyncIterator[str]:
    """The running bot's dashboard over HTTP on a free port; yields its origin."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    app = Starlette(routes=[runtime.dashboard.mount()])
    server = _InnerServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    try:
        yield f"http://127.0.0.1:{port}"  # the socket already listens: requests wait for it
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
