"""Swagger UI at /docs works with no way out of the machine: its script and styles come from this process (the
swagger-ui-bundle-v2 wheel), and it renders the API's operations in Chromium."""

from __future__ import annotations

from playwright.async_api import expect

from api import TokenAuthenticator, create_app
from facade import TrialClient
from tests.web.browser import RequestLog, chromium, kept_on_this_machine, served


def no_trial() -> TrialClient:
    raise AssertionError("the documentation pages need no trial client")


async def test_swagger_ui_renders_the_api_from_local_assets_only() -> None:
    app = create_app(no_trial, TokenAuthenticator(()))
    async with served(app) as url, chromium() as browser:
        context = await browser.new_context()
        await kept_on_this_machine(context)
        page = await context.new_page()
        log = RequestLog()
        log.follow(page)
        await page.goto(url + "/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("trialflow API")
        await expect(page.locator(".opblock-summary-path", has_text="/patients/{study_id}/commands")).to_be_visible()
        assert f"{url}/static/swagger-ui/swagger-ui-bundle.js" in log.urls
        assert log.outside(url) == []
        assert (await page.request.get(url + "/redoc")).status == 404  # ReDoc's page would load a CDN: not offered
        await context.close()
