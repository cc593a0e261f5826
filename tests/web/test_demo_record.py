"""The record `trial-demo --record-url` keeps, served by the API and the web app once the demo (and its Temporal
server) is gone: the supervisor dashboard in Chromium shows the cohort from the record (patients by phase, the CR
rate with the report's interval, the survival curves, the slot calendar, the record verified) and says what needs
the running trial; `GET /exports/odm` validates and holds every recorded event; `GET /exports/sdtm` has one DM row
per subject of the cohort and an AE row for each CRS and ICANS graded 1 or more."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

import httpx
import pandas as pd
import pytest
import pytest_asyncio
from lxml import etree
from playwright.async_api import Browser, Page, expect
from temporalio.client import Client

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.journey import events as ev
from domain.journey.phases import Phase
from domain.roles import Role
from exports.odm_names import ODM_NS
from exports.schemas import ODM_1_3_2, schema_problems
from exports.sdtm import current_facts
from facade import TrialClient, TrialReport
from facade.trial_exports import trial_record
from records import EventStore
from simulation.demo import DemoResult
from tests.simulation.kept_demo import demo_with_kept_record
from tests.web.browser import MovableClock, RequestLog, accessibility_violations, chromium, served
from tests.web.screenshots import screenshot
from web import WebConfig
from web.dashboard import cr_analyses
from web.survival_chart import series_of_report
from web.words import PHASE_WORDS

SEED: Final = 23
PATIENTS: Final = 10
SUPERVISOR_TOKEN: Final = "web-token-of-supervisor-demo-record"
VIEWPORT: Final = {"width": 1280, "height": 900}
NS: Final = {"odm": ODM_NS}


@dataclass(frozen=True)
class KeptRecord:
    url: str  # the API and web app over the kept record
    browser: Browser
    demo: DemoResult
    store: EventStore
    report: TrialReport  # as the served API computes it from the record


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kept(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KeptRecord]:
    """The demo once, its record kept; then the API and web app over that record with no Temporal behind them (the
    demo's time-skipping server is gone), as `trial-demo --record-url` tells the user to serve it."""
    kept_demo = await demo_with_kept_record(tmp_path_factory, seed=SEED, patients=PATIENTS)
    demo = kept_demo.result
    assert demo.report_matches_cohort, demo.mismatches
    store = EventStore(kept_demo.record_url)
    auth = TokenAuthenticator(
        [TokenEntry(sha256=hash_token(SUPERVISOR_TOKEN), user_id="demo.sv", role=Role.SUPERVISOR, name="Demo")]
    )
    trial = TrialClient(cast(Client, None), store)
    try:
        app = create_app(trial, auth, web=WebConfig(clock=MovableClock()))
        async with served(app) as url, chromium() as browser:
            yield KeptRecord(url, browser, demo, store, await trial.report())
    finally:
        store.close()


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


async def supervisors_dashboard(kept: KeptRecord) -> tuple[Page, RequestLog]:
    context = await kept.browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = await context.new_page()
    log = RequestLog()
    log.follow(page)
    await page.goto(kept.url + "/sign-in")
    await page.get_by_label("Personal credential").fill(SUPERVISOR_TOKEN)
    await page.locator("main").get_by_role("button").click()
    await expect(page).to_have_url(kept.url + "/")
    # The worklist needs the running journeys: it says so (no error page), and points to the dashboard.
    await expect(page.locator("#trial-unanswered")).to_contain_text("The running journeys cannot be asked just now")
    await page.goto(kept.url + "/dashboard")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Trial dashboard")
    return page, log


async def test_the_dashboard_shows_the_kept_cohort_from_the_record(kept: KeptRecord, tmp_path: Path) -> None:
    page, log = await supervisors_dashboard(kept)
    report, plan = kept.report, kept.demo.cohort
    assert report.enrollment.patients == PATIENTS

    # Temporal is gone: what needs the running trial is said to be missing, not shown as an error page.
    await expect(page.locator("#trial-unanswered")).to_contain_text(
        "The running trial cannot be asked about this record"
    )
    await expect(page.locator("#verification")).to_contain_text("The trial record verified")

    # Every patient of the cohort under their phase, as the record (and the report) has them.
    phases = page.locator("#phases")
    for phase, count in report.enrollment.by_phase.items():
        heading = phases.locator("h3", has_text=re.compile(f"^{re.escape(PHASE_WORDS[phase])} "))
        if count:
            await expect(heading).to_have_text(f"{PHASE_WORDS[phase]} ({count})")
        else:
            await expect(heading).to_have_count(0)
    assert report.enrollment.by_phase[Phase.FOLLOW_UP] > 0
    for patient in plan.patients:
        await expect(phases.get_by_role("link", name=patient.study_id, exact=True)).to_be_visible()
    await expect(page.locator("#from-record")).to_contain_text(plan.patients[0].study_id)

    # The CR rate of each analysis with the report's exact interval.
    shown = page.locator("#efficacy .cr-rate")
    analyses = cr_analyses(report)
    await expect(shown).to_have_count(len(analyses))
    for at, analysis in enumerate(analyses):
        cr = analysis.cr_rate
        assert cr.total == 8 and cr.rate is not None
        await expect(shown.nth(at)).to_have_text(
            f"CR rate {percent(cr.rate)} ({cr.successes} of {cr.total}), {percent(cr.confidence)} CI "
            f"{percent(cr.ci_low)} to {percent(cr.ci_high)}."
        )
    # The stopping rule as the record's report has it (the trial's workflow, gone, would say the same).
    rule = report.stopping_rule
    await expect(page.locator("#stopping-rule")).to_have_text(
        f"Posterior probability that the toxicity rate exceeds {percent(rule.rate_threshold)}: "
        f"{percent(rule.posterior_probability)} (the trial pauses above {percent(rule.probability_threshold)})."
    )

    # EFS and OS drawn, each with as many points as the report's curve.
    curves = series_of_report(report)
    secondary = report.secondary_endpoints
    assert [len(c.points) for c in curves] == [
        len(secondary.event_free_survival.curve),
        len(secondary.overall_survival.curve),
    ]
    figures = page.locator("#survival figure")
    await expect(figures).to_have_count(2)
    for at, series in enumerate(curves):
        assert len(series.points) > 1
        await expect(figures.nth(at).locator("svg path.curve")).to_have_count(1)
        await expect(figures.nth(at).locator("figcaption")).to_contain_text(
            f"{series.patients} patients, {series.events} events"
        )
        await expect(figures.nth(at).locator("tbody tr")).to_have_count(len(series.points))

    # The slot calendar: every collection the demo booked, by its patient.
    bookings = page.locator("#slots")
    await expect(bookings).to_contain_text("products in manufacturing")
    infused = [p.study_id for p in plan.patients if p.infused]
    calendar = await bookings.inner_text()
    assert infused and all(study_id in calendar for study_id in infused), calendar

    found = await accessibility_violations(page)
    assert found == [], f"axe-core on {page.url}: {found}"
    assert log.urls and log.outside(kept.url) == [], log.outside(kept.url)
    await screenshot(page, "dashboard-demo-record", tmp_path)
    await page.context.close()


async def exported(kept: KeptRecord, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=kept.url, timeout=120) as http:
        response = await http.get(path, headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"})
    assert response.status_code == 200, response.text
    return response


async def test_the_odm_export_of_the_kept_record_validates_and_holds_every_recorded_event(kept: KeptRecord) -> None:
    response = await exported(kept, "/exports/odm")
    assert schema_problems(response.content, ODM_1_3_2) == []
    root = etree.fromstring(response.content)
    record = trial_record(kept.store)
    assert set(record) == {p.study_id for p in kept.demo.cohort.patients}
    for study_id, events in record.items():
        sources = root.xpath(
            f"//odm:SubjectData[@SubjectKey='{study_id}']//odm:AuditRecord/odm:SourceID/text()", namespaces=NS
        )
        assert sorted(sources) == sorted(f"{study_id}#{event.sequence}" for event in events)
    # Nothing else: one audit record per recorded event, the cohort's years of follow-up.
    recorded = sum(len(events) for events in record.values())
    assert len(root.xpath("//odm:AuditRecord", namespaces=NS)) == recorded > 50 * PATIENTS


async def test_the_sdtm_export_of_the_kept_record_has_the_cohort_and_every_crs_and_icans(kept: KeptRecord) -> None:
    response = await exported(kept, "/exports/sdtm")
    archive = zipfile.ZipFile(io.BytesIO(response.content))

    def dataset(name: str) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(archive.read(f"{name}.csv")), dtype=str, keep_default_na=False)

    dm = dataset("dm")
    assert Counter(dm["USUBJID"]) == Counter({p.study_id: 1 for p in kept.demo.cohort.patients})
    record = trial_record(kept.store)
    graded = Counter(
        (study_id, category, str(event.payload.grade))
        for study_id, events in record.items()
        for event in current_facts(events)
        for category, kind in (("CRS", ev.CrsAssessed), ("ICANS", ev.IcansAssessed))
        if isinstance(event.payload, kind) and event.payload.grade >= 1
    )
    ae = dataset("ae")
    astct = ae[ae["AECAT"].isin(["CRS", "ICANS"])]
    assert Counter(zip(astct["USUBJID"], astct["AECAT"], astct["AETOXGR"], strict=True)) == graded
    # The cohort's story: one grade 3 CRS, and one ICANS.
    assert Counter(grade for _, category, grade in graded if category == "CRS")["3"] >= 1
    assert any(category == "ICANS" for _, category, _grade in graded)
