"""What the web app's browser tests share: Debian's Chromium driven by Playwright, the web app served on a free
loopback port by uvicorn (as the API process serves it), a clock the tests move, every request the page made, and
axe-core injected into a page."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from api.server import serve
from workers.dev_server import free_port

CHROMIUM: Final = "/usr/bin/chromium"
AXE_DIR: Final = Path(__file__).resolve().parent.parent / "browser"
AXE_SCRIPT: Final = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# What axe-core must not find on any page.
BLOCKING_IMPACTS: Final = ("serious", "critical")


@dataclass
class MovableClock:
    """The web app's clock: the real time plus however far a test has moved it."""

    moved: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.moved

    def move(self, by: timedelta) -> None:
        self.moved += by


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium (`make test` installs the package), headless; a clear failure without it, never a skip."""
    assert shutil.which(CHROMIUM), f"the browser tests need Debian's chromium package at {CHROMIUM} (make test)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` on a free loopback port until the block ends; its address."""
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, started=started))
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        await task  # its error
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class RequestLog:
    """Every URL a page asked for."""

    urls: list[str] = field(default_factory=list)

    def follow(self, page: Page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))

    def outside(self, *origins: str) -> list[str]:
        """The URLs asked for that are on none of `origins`."""
        return [url for url in self.urls if not any(url == o or url.startswith(o + "/") for o in origins)]


def ensure_axe_installed() -> None:
    """`npm ci` axe-core when missing (as make test does); a clear failure without npm."""
    if AXE_SCRIPT.exists():
        return
    npm = shutil.which("npm")
    assert npm, "the browser tests need npm to install axe-core (tests/browser)"
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"npm ci in {AXE_DIR} failed:\n{done.stdout}\n{done.stderr}"


async def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A and AA rules and best
    practices). Injected through the DevTools protocol, so the page's own CSP stays as it is."""
    await asyncio.to_thread(ensure_axe_installed)
    await page.evaluate(await asyncio.to_thread(AXE_SCRIPT.read_text, encoding="utf-8"))
    results: dict[str, Any] = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
