"""Screenshots the browser tests take of each page: into docs/screenshots/ (the README shows some) only when
TRIALFLOW_WRITE_SCREENSHOTS=1 is set, so `make test` leaves a clone's working tree as it was; otherwise into the
test's own temporary directory, still taken, so the code path runs on every run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from playwright.async_api import Page

SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WRITE_SCREENSHOTS: Final = "TRIALFLOW_WRITE_SCREENSHOTS"


def screenshot_dir(tmp_path: Path) -> Path:
    return SCREENSHOTS if os.environ.get(WRITE_SCREENSHOTS) == "1" else tmp_path / "screenshots"


async def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """The whole page as `name`.png; where it was written."""
    directory = screenshot_dir(tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    written = directory / f"{name}.png"
    await page.screenshot(path=str(written), full_page=True)
    assert written.stat().st_size > 0
    return written
