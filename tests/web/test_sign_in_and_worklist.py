"""The web app in Debian's Chromium over the dev server: sign-in with the personal credential, the worklist showing a
due step to its role only, the patient page, the language remembered, the idle timeout, a forged form post refused
(raw HTTP); every page free of serious accessibility violations and every request to the app's own origin."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.roles import Role
from tests.facade.journeys import enrollment
from tests.servers import Stack
from tests.web.browser import (
    MovableClock,
    RequestLog,
    accessibility_violations,
    chromium,
    no_blocking_violations,
    page_with_requests_logged,
    served,
    sign_in,
)
from web import WebConfig

INVESTIGATOR_TOKEN = "web-token-of-dr-wang"
NURSE_TOKEN = "web-token-of-nurse-chen"
STUDY_ID = "WB-1001"


@dataclass(frozen=True)
class Site:
    url: str
    clock: MovableClock
    browser: Browser


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(stack: Stack) -> AsyncIterator[Site]:
    auth = TokenAuthenticator(
        [
            TokenEntry(sha256=hash_token(INVESTIGATOR_TOKEN), user_id="dr.wang", role=Role.INVESTIGATOR, name="Wang"),
            TokenEntry(sha256=hash_token(NURSE_TOKEN), user_id="nurse.chen", role=Role.NURSE, name="Chen"),
        ]
    )
    clock = MovableClock()
    app = create_app(stack.trial, auth, web=WebConfig(clock=clock))
    await stack.trial.enroll(enrollment(STUDY_ID))
    async with served(app) as url, chromium() as browser:
        yield Site(url, clock, browser)


async def english_page(site: Site) -> tuple[BrowserContext, Page, RequestLog]:
    return await page_with_requests_logged(site.browser)


async def test_the_personal_credential_signs_in_and_the_worklist_shows_the_roles_due_step(site: Site) -> None:
    context, page, log = await english_page(site)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(site.url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await no_blocking_violations(page)

    await sign_in(page, site.url, INVESTIGATOR_TOKEN)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    due_today = page.locator("section", has=page.get_by_role("heading", name=re.compile("^Due today")))
    step = due_today.get_by_role("link", name=re.compile(f"{STUDY_ID}.*confirm eligibility"))
    # The list comes from Temporal's visibility index, which catches up with the enrollment on its own time.
    for _ in range(60):
        if await step.count():
            break
        await page.get_by_role("button", name="Refresh").click()
        await page.wait_for_load_state("networkidle")
    await expect(step).to_be_visible()
    await expect(page.get_by_text("Wang · Investigator")).to_be_visible()
    # htmx works under the pages' CSP: Refresh asks for the page with htmx's header and the session's form token.
    async with page.expect_request(lambda request: request.headers.get("hx-request") == "true") as refreshed:
        await page.get_by_role("button", name="Refresh").click()
    assert (await refreshed.value).headers.get("x-csrf-token")
    await expect(step).to_be_visible()
    await no_blocking_violations(page)

    await step.click()  # one click from the worklist to the step's form, then its patient's page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm eligibility")
    await page.get_by_role("link", name=f"Patient {STUDY_ID}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Patient {STUDY_ID}")
    await expect(page.locator(".phase-strip [aria-current=step]")).to_have_text("Screening")
    await expect(page.locator("#due-ELIGIBILITY")).to_contain_text("confirm eligibility")
    await expect(page.locator("table.timeline tbody tr").first).to_contain_text("(UTC+08:00)")
    await no_blocking_violations(page)

    cookie = next(c for c in await context.cookies() if c["name"] == "trialflow_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert log.urls and log.outside(site.url) == [], log.outside(site.url)
    assert errors == []  # nothing the pages do is blocked by their CSP or fails
    await context.close()


async def test_a_nurse_does_not_see_the_investigators_step_and_a_wrong_credential_is_refused(site: Site) -> None:
    context, page, _log = await english_page(site)
    await page.goto(site.url + "/sign-in")
    await page.get_by_label("Personal credential").fill("not-a-credential-of-anyone")
    await page.locator("main").get_by_role("button").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "This credential was not accepted: it is unknown, expired or revoked."
    )
    await no_blocking_violations(page)

    await sign_in(page, site.url, NURSE_TOKEN)
    await expect(page.get_by_text("Chen · Nurse")).to_be_visible()
    await expect(page.locator("#worklist")).not_to_contain_text(STUDY_ID)
    await context.close()


async def test_the_chosen_language_is_remembered_across_sign_in_and_pages(site: Site) -> None:
    context, page, log = await english_page(site)
    await page.goto(site.url + "/sign-in")
    await page.get_by_label("Language").select_option("zh_Hans")
    await page.get_by_role("button", name="Change language").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    assert await page.get_attribute("html", "lang") == "zh-Hans"
    await no_blocking_violations(page)

    await sign_in(page, site.url, INVESTIGATOR_TOKEN)
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作清单")
    await page.goto(site.url + f"/patient/{STUDY_ID}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"受试者 {STUDY_ID}")
    await expect(page.locator(".phase-strip [aria-current=step]")).to_have_text("筛选")
    await no_blocking_violations(page)

    # Signed out and in again, in a new tab: still Chinese (the choice is the browser's, not the session's).
    await page.get_by_role("button", name="退出登录").click()
    another = await context.new_page()
    await sign_in(another, site.url, INVESTIGATOR_TOKEN)
    await expect(another.get_by_role("heading", level=1)).to_have_text("工作清单")
    await another.get_by_label("语言").select_option("en")
    await another.get_by_role("button", name="切换语言").click()
    await expect(another.get_by_role("heading", level=1)).to_have_text("Worklist")
    assert log.outside(site.url) == []
    await context.close()


async def test_an_idle_session_ends_after_its_timeout(site: Site) -> None:
    context, page, _log = await english_page(site)
    await sign_in(page, site.url, INVESTIGATOR_TOKEN)
    site.clock.move(timedelta(minutes=14))
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")  # 14 minutes idle: still signed in
    site.clock.move(timedelta(minutes=15))
    await page.reload()
    await expect(page).to_have_url(site.url + "/sign-in?idle=1")
    await expect(page.get_by_role("status")).to_have_text("You were signed out after 15 minutes without activity.")
    await page.go_back()  # the old page's address: still signed out
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await context.close()


def _cookie(answer: httpx.Response, name: str) -> str:
    found = re.search(rf"{name}=([^;]+)", answer.headers.get("set-cookie", ""))
    assert found, answer.headers
    return found.group(1)


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_a_form_post_without_the_sessions_token_is_refused_and_changes_nothing(site: Site) -> None:
    # Raw HTTP, as another site's page would post: the session cookie goes along, the form token cannot.
    async with httpx.AsyncClient(base_url=site.url, headers={"Accept-Language": "en"}) as http:
        form = await http.get("/sign-in")
        anonymous = _cookie(form, "trialflow_session")
        token = _form_token(form.text)
        forged = await http.post(
            "/sign-in", data={"credential": INVESTIGATOR_TOKEN}, headers={"Cookie": f"trialflow_session={anonymous}"}
        )
        assert forged.status_code == 403 and "Form refused" in forged.text and "set-cookie" not in forged.headers

        signed = await http.post(
            "/sign-in",
            data={"credential": INVESTIGATOR_TOKEN, "csrf_token": token},
            headers={"Cookie": f"trialflow_session={anonymous}"},
        )
        assert signed.status_code == 200, signed.text
        session = {"Cookie": f"trialflow_session={_cookie(signed, 'trialflow_session')}"}
        session_token = _form_token(signed.text)
        assert session_token != token  # signing in starts a new session, with a new id and token
        assert (await http.get("/sign-in", headers={"Cookie": f"trialflow_session={anonymous}"})).status_code == 200

        for data in ({}, {"csrf_token": token}, {"csrf_token": session_token + "x"}):
            refused = await http.post("/sign-out", data=data, headers=session)
            assert refused.status_code == 403, data
        refused = await http.post("/language", data={"language": "en"}, headers={**session, "X-CSRF-Token": "nope"})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        assert (await http.get("/", headers=session)).status_code == 200  # still signed in: nothing changed

        signed_out = await http.post("/sign-out", data={"csrf_token": session_token}, headers=session)
        assert signed_out.status_code == 303
        after = await http.get("/", headers=session)
        assert after.status_code == 303 and after.headers["location"] == "/sign-in"


async def test_an_unknown_patient_is_a_page_saying_so(site: Site) -> None:
    context, page, _log = await english_page(site)
    await sign_in(page, site.url, INVESTIGATOR_TOKEN)
    answer = await page.goto(site.url + "/patient/WB-9999")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("alert")).to_have_text("No patient with study id WB-9999 is enrolled in the trial.")
    await context.close()


async def test_the_accessibility_check_finds_what_it_must(site: Site) -> None:
    # The check itself: a field without a label is a critical violation axe-core reports.
    context, page, _log = await english_page(site)
    await page.set_content("<!doctype html><html lang='en'><title>t</title><main><input type='text'></main></html>")
    assert [v["id"] for v in await accessibility_violations(page)] == ["label"]
    await context.close()


async def test_sign_in_and_the_worklist_work_from_the_keyboard_alone(site: Site) -> None:
    context, page, _log = await english_page(site)
    await page.goto(site.url + "/sign-in")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    await page.keyboard.press("Enter")  # the skip link moves on to the main content
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "credential":
            break
    await page.keyboard.type(INVESTIGATOR_TOKEN)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    for _ in range(30):  # the step's link is reached by Tab, and Enter follows it
        await page.keyboard.press("Tab")
        if STUDY_ID in (await page.evaluate("document.activeElement.textContent") or ""):
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm eligibility")
    await context.close()
