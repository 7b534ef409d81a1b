"""Debian's Chromium, headless, driven by Playwright, for the dashboard's browser tests.

Playwright never downloads a browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1): it launches
the system's ``chromium`` (scripts/ensure-browser.sh installs it) by its path. Each test gets
a fresh browser context (its own cookies) and a page that records script errors and
console errors, CSP violations included, so a test can assert there were none.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, sync_playwright

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    configured = os.environ.get("DOCKYARD_CHROMIUM")
    for candidate in (configured, *CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class BrowserPage:
    page: Page
    context: BrowserContext
    shots: Path
    problems: list[str] = field(default_factory=list)

    def shoot(self, name: str) -> Path:
        """A full-page screenshot in the test's tmp_path, for a person to look at."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_no_problems(self) -> None:
        """No script errors and no console errors (a CSP violation is one), except the
        browser's note of a 4xx answer a test asked for."""
        found = [p for p in self.problems if "Failed to load resource" not in p]
        assert not found, "script or console errors in the browser:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is not installed: run scripts/ensure-browser.sh (or set DOCKYARD_CHROMIUM)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Browser, tmp_path: Path) -> Iterator[BrowserPage]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    visit = BrowserPage(page, context, tmp_path)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.problems.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        visit.problems.append(f"page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("dialog", lambda dialog: dialog.accept())  # the cancel button asks first
    try:
        yield visit
    finally:
        context.close()
