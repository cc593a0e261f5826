"""Step forms, enrollment and the patient page in Debian's Chromium over the dev server: one whole patient from
enrollment to the day-7 visit through the browser (the path entered late, each step by its own role's form), a
screen failure and a refused step showing every reason, a signed step with a wrong then a right PIN, and a nurse who
is neither offered nor allowed what is not hers. Screenshots of each page go to docs/screenshots/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.journey import commands as cmd
from domain.roles import Role
from domain.site_time import site_date
from simulation.journey_steps import Milestone, PathPatient, entered_late
from tests.facade.journeys import RULES, SCREEN_FAILURE, enrollment
from tests.servers import Stack
from tests.web.browser import MovableClock, chromium, no_blocking_violations, served, sign_in
from tests.web.screenshots import screenshot
from web import WebConfig
from web.i18n import site_zone

PIN: Final = "2468-1357"
ROLES: Final = (
    Role.RESEARCH_COORDINATOR,
    Role.INVESTIGATOR,
    Role.APHERESIS_UNIT,
    Role.CELL_LAB,
    Role.PHARMACY,
    Role.PHYSICIAN,
    Role.NURSE,
)
WHOLE, REFUSED, SIGNED, NURSES, LOCKED = "WB-2001", "WB-2002", "WB-2003", "WB-2004", "WB-2005"
# An investigator of their own for the lockout, so no other test meets a locked signer.
LOCKED_TOKEN: Final = "web-forms-token-locked-investigator"
NEW_TOKEN: Final = "web-forms-token-new-physician"  # no signing PIN yet


def token(role: Role) -> str:
    return f"web-forms-token-{role.value}"


def user(role: Role) -> str:
    return f"{role.value.replace('_', '.')}.web"


@dataclass(frozen=True)
class Site:
    url: str
    browser: Browser
    stack: Stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(stack: Stack) -> AsyncIterator[Site]:
    staff = [
        TokenEntry(sha256=hash_token(token(r)), user_id=user(r), role=r, name=f"{r.value.replace('_', ' ').title()} Li")
        for r in ROLES
    ]
    locked = TokenEntry(
        sha256=hash_token(LOCKED_TOKEN), user_id="locked.investigator.web", role=Role.INVESTIGATOR, name="Zhao"
    )
    newcomer = TokenEntry(sha256=hash_token(NEW_TOKEN), user_id="new.physician.web", role=Role.PHYSICIAN, name="Sun")
    auth = TokenAuthenticator([*staff, locked, newcomer])
    for entry in [*staff, locked]:
        await stack.trial.signing.set_pin(entry.user_id, SecretStr(PIN), current_pin=SecretStr(PIN))
    app = create_app(stack.trial, auth, web=WebConfig(clock=MovableClock()))
    async with served(app) as url, chromium() as browser:
        yield Site(url, browser, stack)


async def signed_in(site: Site, role: Role, credential: str | None = None) -> Page:
    context = await site.browser.new_context(locale="en-US")
    page = await context.new_page()
    await sign_in(page, site.url, credential or token(role))
    return page


def form_values(command: cmd.Command) -> dict[str, Any]:
    """The command's fields as the form names them (dotted), without what the web app sets itself."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        elif value is not None and value != ():
            flat[prefix.rstrip(".")] = value

    for key, value in command.model_dump(exclude={"kind", "actor", "signature"}).items():
        walk(f"{key}.", value)
    return flat


def typed(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(site_zone()).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value.value if hasattr(value, "value") else value)


async def fill(page: Page, values: dict[str, Any]) -> None:
    for name, value in values.items():
        control = page.locator(f'[name="{name}"]').first
        tag = await control.evaluate("element => element.tagName + ':' + (element.type || '')")
        if tag == "INPUT:radio":
            await page.locator(f'[name="{name}"][value="{"true" if value else "false"}"]').check()
        elif tag.startswith("SELECT"):
            await control.select_option(typed(value))
        else:
            await control.fill(typed(value))


async def sign_and_record(page: Page, pin: str) -> None:
    """Send the form; the e-signature dialog asks for the PIN; sign."""
    await page.get_by_role("button", name="Record", exact=True).click()
    dialog = page.get_by_role("dialog", name="Electronic signature")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Signing PIN")).to_be_focused()
    await dialog.get_by_label("Signing PIN").fill(pin)
    await dialog.get_by_role("button", name="Sign and record").click()


async def record(page: Page, site: Site, study_id: str, command: cmd.Command) -> None:
    """`command` entered in its step form by its role and signed when it carries a signature; recorded."""
    await page.goto(f"{site.url}/patient/{study_id}/steps/{command.kind}")
    if isinstance(command, cmd.RecordLymphodepletionDose):  # given as prescribed: the prescription beside the form
        await expect(page.locator(".calculator")).to_contain_text("Fludarabine25.7 mg a day")
        await expect(page.locator(".calculator")).to_contain_text("Cyclophosphamide428 mg a day")
    await fill(page, form_values(command))
    if getattr(command, "signature", None) is not None:
        await sign_and_record(page, PIN)
    else:
        await page.get_by_role("button", name="Record", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded", timeout=30_000)


async def test_a_whole_patient_from_enrollment_to_the_day_7_visit_through_the_browser(
    site: Site, tmp_path: Path
) -> None:
    day_zero = site_date(datetime.now(UTC), RULES) - timedelta(days=7)
    steps = entered_late(Milestone.INFUSED, PathPatient(study_id=WHOLE), day_zero)
    pages = {role: await signed_in(site, role) for role in ROLES}

    coordinator = pages[Role.RESEARCH_COORDINATOR]
    await coordinator.get_by_role("link", name="Enroll", exact=True).click()
    await expect(coordinator.get_by_role("heading", level=1)).to_have_text("Enroll a screened patient")
    enrolled = enrollment(WHOLE, site_date(steps[0].at, RULES))
    await fill(coordinator, form_values(enrolled))
    await expect(coordinator.get_by_label(re.compile(r"^Height \(cm\)"))).to_have_attribute("max", "250")
    await no_blocking_violations(coordinator)
    await screenshot(coordinator, "enrollment", tmp_path)
    await coordinator.get_by_role("button", name="Enroll", exact=True).click()
    await expect(coordinator.get_by_role("heading", level=1)).to_have_text(f"Patient {WHOLE}")

    for step in steps:
        await record(pages[step.command.actor.role], site, WHOLE, step.command)

    # The nurse's CRS check shows its grade and reasons before it is submitted (htmx asks domain/toxicity.py).
    nurse = pages[Role.NURSE]
    crs = cmd.AssessCrs(
        actor=steps[-1].command.actor,
        assessed_at=steps[-1].at + timedelta(hours=20),
        findings={
            "max_temperature_c": 38.6,
            "hypotension": False,
            "vasopressors_excluding_vasopressin": 0,
            "vasopressin": False,
            "oxygen": "none",
        },
    )
    await nurse.goto(f"{site.url}/patient/{WHOLE}/steps/assess_crs")
    await fill(nurse, form_values(crs))
    await expect(nurse.locator("#preview")).to_contain_text("Grade 1")
    await expect(nurse.locator("#preview")).to_contain_text("38.6")
    await fill(nurse, {"findings.vasopressors_excluding_vasopressin": 1})  # findings that contradict each other
    await expect(nurse.locator("#preview")).to_have_text("vasopressors are recorded but hypotension is not")
    await fill(nurse, {"findings.max_temperature_c": 58, "findings.vasopressors_excluding_vasopressin": 0})
    await expect(nurse.locator("#preview")).to_have_text("Highest temperature: must be at most 45")
    await fill(nurse, {"findings.max_temperature_c": 38.6})
    await expect(nurse.locator("#preview")).to_contain_text("Grade 1")
    await no_blocking_violations(nurse)
    await screenshot(nurse, "step-form-crs", tmp_path)
    await nurse.get_by_role("button", name="Record", exact=True).click()
    await expect(nurse.get_by_role("status")).to_contain_text("Recorded")

    # The ICANS check is graded on the child's age (from the record, never shown): nine, so CAPD, not ICE.
    await nurse.goto(f"{site.url}/patient/{WHOLE}/steps/assess_icans")
    icans = {
        "assessed_at": crs.assessed_at,
        "findings.ice_score": 8,
        "findings.consciousness": "alert",
        "findings.seizure": "none",
        "findings.motor": "none",
        "findings.cerebral_edema": "none",
    }
    await fill(nurse, icans)
    await expect(nurse.locator("#preview")).to_contain_text("patient is 9: score the CAPD, not the ICE")
    await nurse.locator('[name="findings.ice_score"]').fill("")
    await fill(nurse, {"findings.capd_score": 4})
    await expect(nurse.locator("#preview")).to_contain_text("Grade 1")
    await nurse.get_by_role("button", name="Record", exact=True).click()
    await expect(nurse.get_by_role("status")).to_contain_text("Recorded: Assess ICANS.")

    # The day-7 visit, one click from the coordinator's worklist, its visit already filled in.
    await coordinator.goto(site.url + "/")
    visit = coordinator.get_by_role("link", name=re.compile(f"{WHOLE}.*day 7"))
    for _ in range(60):  # the worklist lists journeys from Temporal's visibility index, which catches up on its own
        if await visit.count():
            break
        await coordinator.reload()
    await expect(visit).to_be_visible()
    await visit.click()
    await expect(coordinator.locator('[name="visit_code"]')).to_have_value("D7")
    await coordinator.locator('[name="visit_date"]').fill(site_date(datetime.now(UTC), RULES).isoformat())
    await coordinator.get_by_role("button", name="Record", exact=True).click()
    await expect(coordinator.get_by_role("status")).to_contain_text("Recorded: Record a visit.")

    await expect(coordinator.locator(".phase-strip [aria-current=step]")).to_have_text("Toxicity observation")
    await expect(coordinator.locator("table.visits tr.visit-done_in_window")).to_contain_text("D7")
    await expect(coordinator.locator(".coi")).not_to_be_empty()
    await expect(coordinator.locator(".custody")).to_contain_text("infused")
    await expect(coordinator.locator(".grade-chart svg circle.series-crs")).to_have_count(1)
    await expect(coordinator.locator(".grade-chart svg rect.series-icans")).to_have_count(1)
    await expect(coordinator.locator("table.timeline tbody tr").first).to_contain_text("(UTC+08:00)")
    await expect(coordinator.locator(".signatures li").first).to_contain_text("Li")
    await no_blocking_violations(coordinator)
    await screenshot(coordinator, "patient", tmp_path)
    for page in pages.values():
        await page.context.close()


async def test_a_screen_failure_and_a_refused_step_show_every_reason(site: Site, tmp_path: Path) -> None:
    coordinator = await signed_in(site, Role.RESEARCH_COORDINATOR)
    await coordinator.goto(site.url + "/enroll")
    await fill(coordinator, form_values(enrollment(REFUSED, **SCREEN_FAILURE)))
    await coordinator.get_by_role("button", name="Enroll", exact=True).click()
    failure = coordinator.locator("#screen-failure")
    await expect(failure).to_contain_text(f"Screen failure: {REFUSED} is not eligible")
    await expect(failure.locator("li")).to_have_count(2)  # prior CAR-T and the performance score, each its reason

    # A field out of range is shown at its field, and nothing is recorded.
    await coordinator.goto(site.url + "/enroll")
    await fill(coordinator, form_values(enrollment("WB-2012")))
    await coordinator.locator('[name="screening.height_cm"]').fill("400")
    await coordinator.get_by_role("button", name="Enroll", exact=True).click()
    await expect(coordinator.locator("#f-screening-height_cm-problem")).to_have_text("must be at most 250")
    await expect(coordinator.locator("#f-screening-height_cm")).to_have_attribute("aria-invalid", "true")
    await no_blocking_violations(coordinator)

    # The decider's refusal: every reason it gave, as the record keeps the refused attempt.
    await site.stack.trial.enroll(enrollment("WB-2013"))
    physician = await signed_in(site, Role.PHYSICIAN)
    prescription = {"height_cm": 120, "weight_kg": 22, "planned_start_on": date.today() + timedelta(days=2)}
    await physician.goto(f"{site.url}/patient/WB-2013/steps/prescribe_lymphodepletion")
    await fill(physician, prescription)
    await expect(physician.locator("#preview")).to_contain_text("0.856 m²")  # the protocol's worked example
    await expect(physician.locator("#preview")).to_contain_text("428 mg")
    await physician.get_by_role("button", name="Record", exact=True).click()  # the kidney function left out
    summary = physician.locator("#form-problems")
    await expect(summary.get_by_role("link", name="Creatinine clearance")).to_be_visible()
    await expect(summary).to_contain_text("Creatinine clearance: is required")
    await physician.wait_for_load_state()  # the page with the problems wholly loaded before it is filled in again
    await fill(physician, {"creatinine_clearance_ml_min_173m2": 110})
    await expect(physician.locator('[name="creatinine_clearance_ml_min_173m2"]')).to_have_value("110")
    await physician.get_by_role("button", name="Record", exact=True).click()
    await expect(physician.locator("#form-problems")).to_contain_text("the protocol refused this step")
    shown = await physician.locator("#form-problems li").all_inner_texts()
    refused = [e for e in await site.stack.trial.audit("WB-2013") if e.entry == "refused_attempt"]
    assert shown and refused and shown == list(refused[-1].refusal_reasons or ()), shown
    await no_blocking_violations(physician)
    await screenshot(physician, "refused-step", tmp_path)
    await coordinator.context.close()
    await physician.context.close()


async def test_a_signed_step_with_a_wrong_then_the_right_pin(site: Site, tmp_path: Path) -> None:
    await site.stack.trial.enroll(enrollment(SIGNED))
    investigator = await signed_in(site, Role.INVESTIGATOR)
    await investigator.goto(f"{site.url}/patient/{SIGNED}/steps/confirm_eligibility")
    await investigator.get_by_role("button", name="Record", exact=True).click()  # the dialog asks for the PIN
    dialog = investigator.get_by_role("dialog", name="Electronic signature")
    await expect(dialog).to_contain_text("sign it as Investigator Li")
    await no_blocking_violations(investigator)
    await screenshot(investigator, "signature-dialog", tmp_path)
    await dialog.get_by_role("button", name="Cancel").click()  # back to the form, nothing sent
    await expect(dialog).to_be_hidden()
    await expect(investigator.locator("#form-problems")).to_have_count(0)

    await sign_and_record(investigator, "0000-0000")
    await expect(investigator.locator("#form-problems")).to_contain_text("the signing PIN is wrong")
    await expect(investigator.locator("#form-problems")).to_contain_text("2 more wrong PINs lock signing")
    await no_blocking_violations(investigator)
    await screenshot(investigator, "signed-step-wrong-pin", tmp_path)
    await sign_and_record(investigator, PIN)
    await expect(investigator.get_by_role("status")).to_contain_text("Recorded: Confirm eligibility.")
    await expect(investigator.locator(".signatures")).to_contain_text("Investigator Li")
    await expect(investigator.locator(".phase-strip [aria-current=step]")).to_have_text("Consent")
    await investigator.context.close()


async def test_a_nurse_is_neither_offered_nor_allowed_what_is_not_hers(site: Site, tmp_path: Path) -> None:
    await site.stack.trial.enroll(enrollment(NURSES))
    nurse = await signed_in(site, Role.NURSE)
    await expect(nurse.locator("#worklist")).not_to_contain_text(NURSES)
    await nurse.goto(f"{site.url}/patient/{NURSES}")
    await expect(nurse.locator("#due-ELIGIBILITY")).to_contain_text("confirm eligibility")
    await expect(nurse.locator("#due-ELIGIBILITY a")).to_have_count(0)  # listed, but no form offered
    offers = nurse.locator(".offers")
    await expect(offers.get_by_role("link", name="Assess CRS")).to_be_visible()
    await expect(offers.get_by_role("link", name="Confirm eligibility")).to_have_count(0)
    await expect(offers.get_by_role("link", name="Record the infusion")).to_have_count(0)
    response = await nurse.goto(f"{site.url}/patient/{NURSES}/steps/confirm_eligibility")
    assert response is not None and response.status == 403
    await expect(nurse.get_by_role("alert")).to_contain_text("a nurse cannot confirm eligibility")
    await no_blocking_violations(nurse)
    await screenshot(nurse, "step-not-hers", tmp_path)
    # Her own form, in the site's language: labels, units and ranges in Simplified Chinese.
    await nurse.context.close()
    context = await site.browser.new_context(locale="zh-CN")
    chinese = await context.new_page()
    await sign_in(chinese, site.url, token(Role.NURSE))  # signed in before the next page is asked for
    await chinese.goto(f"{site.url}/patient/{NURSES}/steps/assess_crs")
    await expect(chinese.get_by_role("heading", level=1)).to_have_text("评估 CRS")
    await expect(chinese.locator(".help")).to_have_text("记录一次细胞因子释放综合征（CRS）评估：体温、血压支持和氧疗。")
    await expect(chinese.locator('[name="findings.oxygen"] option[value="nasal_cannula"]')).to_have_text("鼻导管")
    await expect(chinese.get_by_label(re.compile("^最高体温"))).to_have_attribute("max", "45")
    await expect(chinese.locator("#f-findings-max_temperature_c-hint")).to_have_text("至少 30，至多 45")
    await no_blocking_violations(chinese)
    await context.close()


async def test_three_wrong_pins_lock_signing_and_the_form_says_until_when(site: Site, tmp_path: Path) -> None:
    await site.stack.trial.enroll(enrollment(LOCKED))
    investigator = await signed_in(site, Role.INVESTIGATOR, LOCKED_TOKEN)
    await investigator.goto(f"{site.url}/patient/{LOCKED}/steps/confirm_eligibility")
    problems = investigator.locator("#form-problems")
    for left in ("2 more wrong PINs", "1 more wrong PIN lock"):
        await sign_and_record(investigator, "1111-2222")
        await expect(problems).to_contain_text(left)
    await sign_and_record(investigator, "1111-2222")
    await expect(problems).to_contain_text("signing is locked for locked.investigator.web until")
    await expect(problems).to_contain_text("a supervisor was alerted")
    await no_blocking_violations(investigator)
    await screenshot(investigator, "signed-step-locked", tmp_path)
    await investigator.context.close()

    # The right PIN does not sign while locked; without scripts the dialog's fields sit in the form.
    context = await site.browser.new_context(locale="en-US", java_script_enabled=False)
    investigator = await context.new_page()
    await sign_in(investigator, site.url, LOCKED_TOKEN)
    await investigator.goto(f"{site.url}/patient/{LOCKED}/steps/confirm_eligibility")
    await investigator.get_by_label("Signing PIN").fill(PIN)
    await investigator.get_by_role("button", name="Sign and record").click()
    problems = investigator.locator("#form-problems")
    await expect(problems).to_contain_text("signing is locked")
    await expect(investigator.locator("#form-problems li")).to_have_count(1)
    assert (await site.stack.trial.status(LOCKED)).phase.value == "screening"  # nothing was recorded
    await investigator.context.close()


async def test_a_newcomer_sets_a_signing_pin_and_changing_it_needs_the_current_one(site: Site, tmp_path: Path) -> None:
    newcomer = await signed_in(site, Role.PHYSICIAN, NEW_TOKEN)
    await newcomer.get_by_role("link", name="Signing PIN").click()
    await expect(newcomer.get_by_role("heading", level=1)).to_have_text("Your signing PIN")
    await no_blocking_violations(newcomer)

    async def send(current: str, new: str, again: str) -> None:
        await newcomer.get_by_label("Current signing PIN").fill(current)
        await newcomer.get_by_label(re.compile(r"^New signing PIN \(")).fill(new)
        await newcomer.get_by_label(re.compile("^New signing PIN again")).fill(again)
        await newcomer.get_by_role("button", name="Set the signing PIN").click()

    await send("", "1357-2468", "1357-2486")
    await expect(newcomer.locator("#form-problems")).to_contain_text("the two new PINs differ")
    await send("", "7", "7")
    problems = newcomer.locator("#form-problems li")
    await expect(problems).to_have_count(2)  # too short, and one character repeated: every problem
    await send("", "1357-2468", "1357-2468")
    await expect(newcomer.get_by_role("status")).to_have_text("Your signing PIN is set.")
    await send("", "9753-8642", "9753-8642")
    await expect(newcomer.locator("#form-problems")).to_contain_text("your current signing PIN is needed")
    await send("1357-2468", "9753-8642", "9753-8642")
    await expect(newcomer.get_by_role("status")).to_have_text("Your signing PIN is set.")
    await screenshot(newcomer, "signing-pin", tmp_path)
    await newcomer.context.close()
