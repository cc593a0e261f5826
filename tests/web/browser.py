"""What the web app's browser tests share: Debian's Chromium driven by Playwright, the web app served on a free
loopback port by uvicorn (as the API process serves it), a clock the tests move, every request the page made, and
axe-core injected into a page."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, Request, Route, async_playwright, expect

from api.server import serve
from workers.dev_server import free_port

CHROMIUM: Final = "/usr/bin/chromium"
AXE_DIR: Final = Path(__file__).resolve().parent.parent / "browser"
AXE_SCRIPT: Final = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# What axe-core must not find on any page.
BLOCKING_IMPACTS: Final = ("serious", "critical")
# How long an expectation or a page action waits for the page: a bound against a hang on a busy machine (Playwright's
# own 5 s default fails a test only because another suite runs), never a claim about speed.
PAGE_WAIT_MS: Final = 30_000
expect.set_options(timeout=PAGE_WAIT_MS)


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
async def served(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """`app` on `port` (default: a free loopback port) until the block ends; its address."""
    port = port or free_port()
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
    """Every URL a page asked for, with the address of the page that asked (None: a navigation)."""

    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def follow(self, page: Page) -> None:
        page.on("request", self._note)

    def _note(self, request: Request) -> None:
        self.requests.append((request.url, None if request.is_navigation_request() else request.frame.url))

    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self.requests]

    def outside(self, *origins: str, asked_by: str | None = None) -> list[str]:
        """The URLs on none of `origins` (asked for by pages of `asked_by` only, when given)."""
        return [
            url
            for url, page in self.requests
            if not _on(url, origins) and (asked_by is None or (page is not None and _on(page, (asked_by,))))
        ]


def _on(url: str, origins: tuple[str, ...]) -> bool:
    return any(url == origin or url.startswith(origin + "/") for origin in origins)


async def kept_on_this_machine(context: BrowserContext) -> None:
    """Requests to other machines fail at once (the OpenID provider's development pages ask for web fonts)."""

    async def route(handled: Route) -> None:
        host = urlsplit(handled.request.url).hostname
        await (handled.continue_() if host in {"127.0.0.1", "localhost"} else handled.abort())

    await context.route("**/*", route)


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


async def page_with_requests_logged(
    browser: Browser, locale: str = "en-US", **context_options: Any
) -> tuple[BrowserContext, Page, RequestLog]:
    """A new context and page in `locale`, every request the page makes logged."""
    context = await browser.new_context(locale=locale, **context_options)
    page = await context.new_page()
    log = RequestLog()
    log.follow(page)
    return context, page, log


async def sign_in(page: Page, url: str, credential: str) -> None:
    """Sign in with a personal credential from the app's first page; lands on the worklist."""
    await page.goto(url + "/")
    await expect(page).to_have_url(url + "/sign-in")
    await page.get_by_label(re.compile("Personal credential|个人凭据")).fill(credential)
    await page.locator("main").get_by_role("button").click()
    await expect(page).to_have_url(url + "/")


async def no_blocking_violations(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page."""
    found = await accessibility_violations(page)
    assert found == [], f"axe-core on {page.url}: {found}"
