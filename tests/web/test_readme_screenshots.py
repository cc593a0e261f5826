"""The README's browser walk-through shows screenshots that exist: every image it names under docs/screenshots/ is
a PNG there, at least two are shown, and every page's screenshot the browser test takes is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
SCREENSHOTS: Final = ROOT / "docs" / "screenshots"
# What tests/web/test_dashboard_browser.py writes: one screenshot a page.
PAGES: Final = ("sign-in", "worklist", "patient-infused", "dashboard", "dsmb")
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
IMAGE: Final = re.compile(r"!\[[^\]]+\]\((docs/screenshots/[^)\s]+)\)")


def test_the_readmes_walk_through_shows_at_least_two_screenshots_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Browser walk-through" in readme
    shown = IMAGE.findall(readme)
    assert len(shown) >= 2, shown
    for path in shown:
        image = ROOT / path
        assert image.is_file(), f"the README shows {path}, which is missing"
        assert image.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"


def test_every_pages_screenshot_is_kept() -> None:
    for name in PAGES:
        image = SCREENSHOTS / f"{name}.png"
        assert image.is_file() and image.read_bytes()[:8] == PNG_SIGNATURE, f"{image} is missing or not a PNG"
