"""Signing in to the web app through a real, certified OpenID provider (oidc-provider on Node.js) with the
authorization-code flow and PKCE, in Debian's Chromium: the provider's own login and consent pages, then the worklist
under the provider's user and role. Every request goes to the app or the provider, both on this machine."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from api import create_app
from security.auth import AuthenticationFailed
from security.oidc import OidcAuthenticator
from tests.oidc_provider import AUDIENCE, OpenIdProvider, openid_provider
from tests.servers import Stack
from tests.waiting import poll
from tests.web.browser import RequestLog, accessibility_violations, chromium, kept_on_this_machine, served
from web import WebConfig
from web.config import OidcWebClient
from web.sessions import SessionStore
from workers.dev_server import free_port

ACCOUNTS = {"dr.zhao": "investigator", "nurse.sun": "nurse"}
# Access tokens live two seconds (and are refused the moment they expire): the session renews them.
ACCESS_TOKEN_SECONDS = 2


@dataclass(frozen=True)
class OidcSite:
    url: str
    provider: OpenIdProvider
    browser: Browser
    app: FastAPI
    auth: OidcAuthenticator


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(stack: Stack) -> AsyncIterator[OidcSite]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    callback = f"{url}/auth/callback"
    async with openid_provider(ACCOUNTS, ACCESS_TOKEN_SECONDS, web_redirect_uri=callback) as provider:
        auth = OidcAuthenticator(issuer=provider.issuer, audience=AUDIENCE, leeway_seconds=0)
        scopes = ("openid", "profile", "offline_access")
        app = create_app(stack.trial, auth, web=WebConfig(oidc=OidcWebClient(provider.issuer, "trialflow-web", scopes)))
        async with served(app, port), chromium() as browser:
            yield OidcSite(url, provider, browser, app, auth)


async def through_the_providers_pages(page: Page, login: str) -> None:
    """What a person does on the provider's development pages: log in (any password), then consent."""
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill("any password will do")
    await page.locator("button[type=submit]").click()
    await page.locator("button[type=submit]").click()  # consent: "Continue"


async def test_the_authorization_code_flow_with_pkce_signs_in_the_providers_user(site: OidcSite) -> None:
    context = await site.browser.new_context(locale="en-US")
    await kept_on_this_machine(context)
    page = await context.new_page()
    log = RequestLog()
    log.follow(page)
    await page.goto(site.url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert await page.get_by_label("Personal credential").count() == 0  # the issuer is the way in
    found = await accessibility_violations(page)
    assert found == [], found

    async with page.expect_request(re.compile(re.escape(site.provider.issuer) + "/auth\\?")) as sent:
        await page.get_by_role("button", name="Sign in with the hospital's identity provider").click()
    asked = parse_qs(urlsplit((await sent.value).url).query)
    assert asked["response_type"] == ["code"] and asked["client_id"] == ["trialflow-web"]
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
    assert asked["redirect_uri"] == [site.url + "/auth/callback"] and asked["state"][0]
    assert asked["scope"] == ["openid profile offline_access"] and asked["prompt"] == ["consent"]

    await through_the_providers_pages(page, "dr.zhao")
    await expect(page).to_have_url(site.url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    # The printed name is the provider's `name` claim; the role its trialflow_role claim.
    await expect(page.get_by_text("Zhao (dr.zhao) · Investigator")).to_be_visible()
    # The app's pages ask nothing of another origin; only the test provider's own development pages ask for fonts.
    assert log.outside(site.url, asked_by=site.url) == []
    assert log.outside(site.url, site.provider.issuer) == log.outside(
        site.url, site.provider.issuer, asked_by=site.provider.issuer
    )
    await context.close()


async def test_a_callback_without_the_browsers_sign_in_attempt_is_refused(site: OidcSite) -> None:
    # A code and state pasted into another browser (or sent by an attacker) sign nobody in.
    context = await site.browser.new_context(locale="en-US")
    page = await context.new_page()
    answer = await page.goto(site.url + "/auth/callback?code=stolen-code&state=guessed-state")
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("alert")).to_have_text("The sign-in did not complete. Please try again.")
    await page.goto(site.url + "/")
    await expect(page).to_have_url(site.url + "/sign-in")
    await context.close()


async def test_an_expired_access_token_is_renewed_with_the_refresh_token_while_the_session_lasts(
    site: OidcSite,
) -> None:
    context = await site.browser.new_context(locale="en-US")
    await kept_on_this_machine(context)
    page = await context.new_page()
    await page.goto(site.url + "/")
    await page.get_by_role("button", name="Sign in with the hospital's identity provider").click()
    await through_the_providers_pages(page, "nurse.sun")
    await expect(page.get_by_text("Sun (nurse.sun) · Nurse")).to_be_visible()

    cookie = next(c["value"] for c in await context.cookies() if c["name"] == "trialflow_session")
    store: SessionStore = site.app.state.web_sessions
    first = store.current(cookie)[0]
    assert first is not None and first.user is not None and first.user.refresh_token

    async def expired() -> bool | None:
        assert first.user is not None
        try:
            await asyncio.to_thread(site.auth.actor_for, first.user.credential)
        except AuthenticationFailed:
            return True
        return None

    await poll(expired, "the first access token expired")
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")  # still signed in, not asked again
    renewed = store.current(cookie)[0]
    assert renewed is not None and renewed.user is not None
    assert renewed.user.credential != first.user.credential and renewed.user.actor == first.user.actor
    await context.close()
