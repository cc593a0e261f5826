"""A survival curve as the dashboard draws it (web/templates/_survival_chart.html), in Debian's Chromium: an image
named by its caption, its numbers in a table behind a disclosure, and no serious axe-core violation."""

from __future__ import annotations

from playwright.async_api import expect

from tests.web.browser import accessibility_violations, chromium
from web.rendering import templates
from web.survival_chart import EVENT_FREE_SURVIVAL, SurvivalPoint, SurvivalSeries, drawing

SERIES = SurvivalSeries(
    EVENT_FREE_SURVIVAL,
    patients=4,
    events=2,
    points=(
        SurvivalPoint(day=0, survival=1.0, ci_low=1.0, ci_high=1.0, at_risk=4),
        SurvivalPoint(day=30, survival=0.75, ci_low=0.5, ci_high=0.9, at_risk=3),
        SurvivalPoint(day=90, survival=0.5, ci_low=0.25, ci_high=0.8, at_risk=2),
    ),
    median_days=90,
)


def untranslated(message: str, **variables: object) -> str:
    return message % variables if variables else message


def chart_page() -> str:
    chart = templates.env.get_template("_survival_chart.html").render(
        series=SERIES, drawn=drawing(SERIES), _=untranslated
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Survival</title></head>'
        f"<body><main><h1>Survival from infusion</h1>{chart}</main></body></html>"
    )


async def test_a_drawn_curve_is_an_image_named_by_its_caption_with_its_numbers_in_a_table() -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.set_content(chart_page())
        image = page.get_by_role("img", name="Event-free survival: 4 patients, 2 events; median 90 days")
        await expect(image).to_have_count(1)
        drawn = drawing(SERIES)
        assert drawn is not None
        await expect(page.locator("svg path.curve")).to_have_attribute("d", drawn.curve)
        await page.get_by_text("The numbers").click()
        rows = page.locator("table tbody tr")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(1)).to_have_text("3075.0 %50.0–90.0 %3")
        assert await accessibility_violations(page) == []
