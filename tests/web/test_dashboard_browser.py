"""The supervisor dashboard and the DSMB's page in Debian's Chromium after a small cohort has run on the dev server
(in screening, a screen failure, consented with its slots booked, an overdue lymphodepletion, a whole journey in
remission at one year, two infused with grade 3 CRS: two DLTs pause the trial, and an undelivered alert): the
trial's state, the stopping rule's posterior, the CR rate, the patients by phase, overdue items, open safety reports,
the slot calendar, failed notifications, the record's verification (then failed, after an edit behind its back), an
audit trail downloaded; the DSMB's signed decision refused with a wrong PIN and recorded with the right one; English
and Chinese, axe-core clean, nothing from outside the machine. The screenshots of docs/screenshots/ are taken here."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from pydantic import SecretStr

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.journey.command_registry import STAFF_COMMANDS, Signed
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.statistics import clopper_pearson_interval, evaluate_stopping_rule
from domain.trial.state import Enrollment
from facade import TrialClient
from facade.signing import SigningRequest
from records.deliveries import DeliveryLedger, DeliveryTarget
from simulation.journey_steps import printed_name
from tests.facade.journeys import (
    GRADE_3_CRS,
    SCREEN_FAILURE,
    SIGNING_PIN,
    enrollment,
    infused,
    to_apheresis,
    to_lymphodepletion,
    today,
)
from tests.facade.late_journey import late_journey
from tests.servers import Stack
from tests.waiting import poll
from tests.web.browser import (
    MovableClock,
    RequestLog,
    chromium,
    no_blocking_violations,
    page_with_requests_logged,
    served,
    sign_in,
)
from web import WebConfig
from web.dashboard import PER_PROTOCOL, cr_analyses
from web.survival_chart import series_of_report

SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SUPERVISOR_TOKEN = "web-token-of-supervisor-zhao"
DSMB_TOKEN = "web-token-of-dsmb-chair-li"
NURSE_TOKEN = "web-token-of-nurse-sun"
DSMB_PIN = "2468-1357"
IN_SCREENING, SCREEN_FAILED, CONSENTED, INFUSED_FIRST, INFUSED_SECOND, LATE_DOSE, IN_REMISSION = (
    "WB-3001",
    "WB-3002",
    "WB-3003",
    "WB-3004",
    "WB-3005",
    "WB-3006",
    "WB-3007",
)
COHORT: Final = (IN_SCREENING, SCREEN_FAILED, CONSENTED, INFUSED_FIRST, INFUSED_SECOND, LATE_DOSE, IN_REMISSION)
UNDELIVERED = DeliveryTarget(
    notification_key="WB-3004:crs-grade-3:investigator",
    study_id=INFUSED_FIRST,
    role=Role.INVESTIGATOR.value,
    staff_id="dr.wang",
    channel="email",
    recipient="dr.wang@hospital.example",
)
VIEWPORT: Final = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Site:
    url: str
    browser: Browser
    trial: TrialClient


async def run_cohort(trial: TrialClient) -> None:
    """The cohort through the trial client, as the facade tests drive patients (simulation/journey_steps.py)."""
    await trial.enroll(enrollment(IN_SCREENING))
    await trial.enroll(enrollment(SCREEN_FAILED, **SCREEN_FAILURE))
    await to_apheresis(trial, CONSENTED)  # consented: its collection and manufacturing slots booked
    # Lymphodepletion prescribed to start two days ago, no dose given: overdue.
    await to_lymphodepletion(trial, LATE_DOSE, today() + timedelta(days=3))
    await whole_late_journey(trial, IN_REMISSION)  # in complete remission at one year
    await infused(trial, INFUSED_FIRST, GRADE_3_CRS)
    await infused(trial, INFUSED_SECOND, GRADE_3_CRS)

    async def paused() -> bool | None:
        return True if (await trial.trial_status()).enrollment is Enrollment.PAUSED else None

    await poll(paused, "enrollment paused by two DLTs")
    # An alert whose e-mail the server refused, as the notification activity records it.
    await asyncio.to_thread(
        DeliveryLedger(trial.store.engine).record_failure, UNDELIVERED, "SMTP 550 mailbox unavailable", permanent=True
    )


async def whole_late_journey(trial: TrialClient, study_id: str) -> None:
    """Every staff step from screening to the one-year marrow, entered late from paper records, each signed by its
    author with their PIN when the step may be signed."""
    enrolled, steps = late_journey(study_id, datetime.now(UTC))
    await trial.enroll(enrolled)
    pin = SecretStr(SIGNING_PIN)
    for user in {step.actor.user_id for step in steps}:
        await trial.signing.set_pin(user, pin, current_pin=pin)
    for step in steps:
        may_sign = STAFF_COMMANDS[step.kind].signed is not Signed.NEVER
        signing = SigningRequest(pin=pin, printed_name=printed_name(step.actor.user_id)) if may_sign else None
        await trial.record(study_id, step, signing=signing)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(stack: Stack) -> AsyncIterator[Site]:
    auth = TokenAuthenticator(
        [
            TokenEntry(sha256=hash_token(SUPERVISOR_TOKEN), user_id="zhao.sv", role=Role.SUPERVISOR, name="Zhao"),
            TokenEntry(sha256=hash_token(DSMB_TOKEN), user_id="li.dsmb", role=Role.DSMB, name="Li Ming"),
            TokenEntry(sha256=hash_token(NURSE_TOKEN), user_id="sun.rn", role=Role.NURSE, name="Sun"),
        ]
    )
    await run_cohort(stack.trial)
    pin = SecretStr(DSMB_PIN)
    await stack.trial.signing.set_pin("li.dsmb", pin, current_pin=pin)
    app = create_app(stack.trial, auth, web=WebConfig(clock=MovableClock()))
    async with served(app) as url, chromium() as browser:
        yield Site(url, browser, stack.trial)


async def new_page(site: Site, locale: str = "en-US") -> tuple[BrowserContext, Page, RequestLog]:
    return await page_with_requests_logged(site.browser, locale, viewport=VIEWPORT, accept_downloads=True)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


async def dashboard_listing_every_patient(page: Page, site: Site) -> None:
    """The dashboard, once Temporal's visibility index (eventually consistent) lists the whole cohort."""
    phases = page.locator("#phases")

    async def listed() -> bool | None:
        await page.goto(site.url + "/dashboard")
        shown = await phases.inner_text()
        return True if all(study_id in shown for study_id in COHORT) else None

    await poll(listed, "the dashboard lists the whole cohort")


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


async def test_the_dashboard_after_the_cohort_then_the_dsmbs_signed_decision(site: Site) -> None:
    context, page, log = await new_page(site)
    await sign_in(page, site.url, SUPERVISOR_TOKEN)
    await page.get_by_role("navigation").get_by_role("link", name="Trial dashboard").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Trial dashboard")
    await dashboard_listing_every_patient(page, site)

    # Two DLTs among three evaluable patients (the one in remission had none): the rule has paused enrollment.
    rule = evaluate_stopping_rule(2, 3, PROTOCOL_V1.stopping_rule)
    assert rule.paused
    await expect(page.locator("#enrollment")).to_contain_text("Enrollment is paused by the safety stopping rule.")
    await expect(page.locator("#stopping-rule")).to_have_text(
        f"Posterior probability that the toxicity rate exceeds {percent(rule.rate_threshold)}: "
        f"{percent(rule.posterior_probability)} (the trial pauses above {percent(rule.probability_threshold)})."
    )
    await expect(page.locator("#enrollment")).to_contain_text("2 dose-limiting toxicities among 3 evaluable patients.")
    # One infused patient assessed at one year, in complete remission: 1 of 1, with its exact interval.
    report = await site.trial.report()
    analyses = cr_analyses(report)
    per_protocol = next(a for a in analyses if a.name == PER_PROTOCOL)
    assert (per_protocol.cr_rate.successes, per_protocol.cr_rate.total) == (1, 1)
    assert (per_protocol.cr_rate.ci_low, per_protocol.cr_rate.ci_high) == clopper_pearson_interval(
        1, 1, per_protocol.cr_rate.confidence
    )
    shown = page.locator("#efficacy .cr-rate")
    await expect(shown).to_have_count(len(analyses))
    for at, analysis in enumerate(analyses):
        cr = analysis.cr_rate
        await expect(shown.nth(at)).to_have_text(
            f"CR rate {percent(cr.successes / cr.total)} ({cr.successes} of {cr.total}), {percent(cr.confidence)} CI "
            f"{percent(cr.ci_low)} to {percent(cr.ci_high)}."
        )
    phases = page.locator("#phases")
    await expect(phases.locator("h3", has_text="Screening")).to_contain_text("(1)")
    await expect(phases.locator("h3", has_text="Follow-up")).to_contain_text("(1)")
    await expect(phases.locator("li", has_text=SCREEN_FAILED)).to_be_visible()
    overdue = page.locator("section.bucket-overdue")
    await expect(overdue.get_by_role("link", name=re.compile(f"^{LATE_DOSE} give fludarabine day 1:"))).to_be_visible()
    reports = page.locator("#safety-reports")
    await expect(reports.get_by_role("heading")).to_contain_text("(2)")
    for study_id in (INFUSED_FIRST, INFUSED_SECOND):
        await expect(reports.get_by_role("link", name=study_id)).to_be_visible()
    await expect(page.locator("#slots")).to_contain_text(CONSENTED)
    await expect(page.locator("#verification")).to_contain_text("The trial record verified")
    undelivered = page.locator("#failed-notifications tbody tr")
    await expect(undelivered).to_have_count(1)
    await expect(undelivered).to_contain_text("dr.wang")
    await expect(undelivered).to_contain_text("SMTP 550 mailbox unavailable")
    await expect(undelivered).to_contain_text("refused by the channel")
    # The Kaplan-Meier curves the report holds (EFS and OS from infusion), each drawn; none: said, not drawn.
    curves = series_of_report(report)
    figures = page.locator("#survival figure")
    await expect(figures).to_have_count(len(curves))
    if not curves:
        await expect(page.locator("#survival")).to_contain_text("The report holds no survival estimates yet.")
    for at, series in enumerate(curves):
        await expect(figures.nth(at).locator("figcaption")).to_contain_text(f"{series.patients} patients")
        await expect(figures.nth(at).locator("svg path.curve")).to_have_count(1 if series.points else 0)
    await no_blocking_violations(page)
    await screenshot(page, "dashboard")

    # The audit trail of a patient, downloaded as the API's export gives it.
    async with page.expect_download() as downloading:
        await phases.get_by_role("link", name=f"Audit trail of {INFUSED_FIRST} as CSV").click()
    download = await downloading.value
    assert download.suggested_filename == f"audit-{INFUSED_FIRST}.csv"
    saved = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert [row["sequence"] for row in rows if row["entry"] == "event"][:3] == ["1", "2", "3"]
    assert {row["study_id"] for row in rows} == {INFUSED_FIRST}

    # The same dashboard in Chinese.
    await page.get_by_label("Language").select_option("zh_Hans")
    await page.get_by_role("button", name="Change language").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("试验总览")
    await expect(page.locator("#enrollment")).to_contain_text("入组状态：因安全性停止规则而暂停。")
    await no_blocking_violations(page)
    assert log.urls and log.outside(site.url) == [], log.outside(site.url)
    await context.close()

    # The DSMB chair: the trial's state, a problem in the form, a wrong PIN, then the right one.
    context, page, log = await new_page(site)
    await sign_in(page, site.url, DSMB_TOKEN)
    await page.get_by_role("navigation").get_by_role("link", name="DSMB decision").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("DSMB decision")
    await expect(page.locator("#trial-state")).to_contain_text("Enrollment is paused by the safety stopping rule.")
    await expect(page.locator("#decide")).to_contain_text("Signing as Li Ming.")
    await no_blocking_violations(page)
    await screenshot(page, "dsmb")

    await page.get_by_label("Resume enrollment", exact=True).check()
    await page.get_by_label("Rationale").fill("   ")  # blank once trimmed
    await page.get_by_label("Signing PIN").fill("0000-0000")
    await page.get_by_role("button", name="Sign and record the decision").click()
    problems = page.get_by_role("alert")
    await expect(problems).to_contain_text("Nothing was recorded")
    await expect(problems).to_contain_text("Rationale:")
    await expect(page.get_by_label("Resume enrollment", exact=True)).to_be_checked()  # what was entered stays

    await page.get_by_label("Rationale").fill("Both grade 3 CRS events reviewed; resume with weekly safety review.")
    await page.get_by_label("Signing PIN").fill("0000-0000")
    await page.get_by_role("button", name="Sign and record the decision").click()
    await expect(page.get_by_role("alert")).to_contain_text("the signing PIN is wrong")
    await no_blocking_violations(page)
    assert (await site.trial.trial_status()).enrollment is Enrollment.PAUSED  # nothing changed

    await page.get_by_label("Signing PIN").fill(DSMB_PIN)
    await page.get_by_label("Signing PIN").press("Enter")  # the keyboard submits the form
    await expect(page.get_by_role("status")).to_have_text("Your signed decision is recorded.")
    await expect(page.locator("#trial-state")).to_contain_text("Enrollment is open.")
    await expect(page.locator("#trial-state table")).to_contain_text("li.dsmb")
    status = await site.trial.trial_status()
    assert status.enrollment is Enrollment.OPEN and [d.decided_by for d in status.decisions] == ["li.dsmb"]
    assert log.outside(site.url) == [], log.outside(site.url)

    # An entry edited in the database behind the record's back: the dashboard says the record failed verification
    # and names the patient the report leaves out.
    await asyncio.to_thread(edit_behind_the_records_back, site.trial, IN_SCREENING)
    await page.goto(site.url + "/dashboard")
    alert = page.locator("#verification [role=alert]")
    await expect(alert).to_have_text("The trial record failed verification: the report leaves these patients out.")
    await expect(page.locator("#verification li")).to_contain_text(IN_SCREENING)
    await no_blocking_violations(page)
    await context.close()


def edit_behind_the_records_back(trial: TrialClient, study_id: str) -> None:
    """The first entry's reason changed with the append-only guard dropped, as an intruder with DDL rights would."""
    assert trial.store.dialect == "sqlite"
    with trial.store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER trial_events_no_update")
        connection.exec_driver_sql(
            "UPDATE trial_events SET reason = 'edited later' WHERE study_id = ? AND sequence = 1", (study_id,)
        )


async def test_the_staff_pages_screenshots_and_what_other_roles_may_not_do(site: Site) -> None:
    context, page, _log = await new_page(site)
    await page.goto(site.url + "/sign-in")
    await screenshot(page, "sign-in")
    await sign_in(page, site.url, SUPERVISOR_TOKEN)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    await screenshot(page, "worklist")
    # From the keyboard alone: Tab along the menu to the dashboard, Enter.
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.textContent.trim()") == "Trial dashboard":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Trial dashboard")
    await page.goto(site.url + f"/patient/{INFUSED_FIRST}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Patient {INFUSED_FIRST}")
    await screenshot(page, "patient-infused")
    await context.close()

    # A nurse: no dashboard in the menu, and the DSMB's page without its form.
    context, page, _log = await new_page(site)
    await sign_in(page, site.url, NURSE_TOKEN)
    await expect(page.get_by_role("navigation").get_by_role("link", name="Trial dashboard")).to_have_count(0)
    await page.goto(site.url + "/dsmb")
    await expect(page.locator("#decide")).to_contain_text("Only a member of the data and safety monitoring board")
    await expect(page.locator("#decide form")).to_have_count(0)
    await context.close()

    # The DSMB reads the dashboard, not a patient's audit trail (it holds patient data: the API's audit roles).
    context, page, _log = await new_page(site)
    await sign_in(page, site.url, DSMB_TOKEN)
    await dashboard_listing_every_patient(page, site)
    await expect(page.locator("#phases .downloads")).to_have_count(0)
    answer = await page.goto(site.url + f"/patient/{INFUSED_FIRST}/audit.csv")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("alert")).to_have_text(
        f"Your role may not export the audit trail of {INFUSED_FIRST}: it holds patient data."
    )
    await no_blocking_violations(page)
    await context.close()
