"""Records the workflow histories that guard running patients: five representative journeys, every run of each.

Run `.venv/bin/python -m tests.histories.generate`; README.md says when to regenerate (never to make a replay pass).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHistory

from config.journey_ids import journey_workflow_id, trial_workflow_id
from config.search_attributes import register_search_attributes
from config.settling import settle
from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from records import EventStore
from simulation.journey_steps import PathPatient, scheduled_item
from tests.domain.journey_driver import (
    COORDINATOR,
    INVESTIGATOR,
    LAB,
    NURSE,
    PHYSICIAN,
    crs_findings,
    icans_findings,
    marrow,
)
from tests.workflows.journey_client import JourneyClient
from workers.time_skipping import start_time_skipping
from workers.worker import journey_worker

HISTORIES_DIR = Path(__file__).parent

# scenario -> study id. The file names carry the scenario; the replay test derives the workflow id from here.
SCENARIOS: dict[str, str] = {
    "full-journey": "TF-901",
    "screen-failure": "TF-902",
    "crs-death": "TF-903",
    "relapse-lost": "TF-904",
    "custody-trial": "TF-905",
    "amendment-reconsent": "TF-906",
    "amendment-declined": "TF-907",
    "amendment-screening": "TF-908",
    "late-entry": "TF-909",
}


# The TrialWorkflow's own history in the scenarios that report to it: "trial-<scenario>-runNN.json".
TRIAL_SCENARIOS = ("custody-trial",)
TRIAL_PREFIX = "trial-"
TRIAL_WORKFLOW_ID = "trial-history"  # the trial's logic never reads its id: any id replays


def workflow_id_of(scenario: str) -> str:
    if scenario.startswith(TRIAL_PREFIX):
        return TRIAL_WORKFLOW_ID
    return journey_workflow_id(SCENARIOS[scenario])


def history_file(scenario: str, run: int, directory: Path = HISTORIES_DIR) -> Path:
    return directory / f"{scenario}-run{run:02d}.json"


def scenario_of(path: Path) -> str:
    return path.stem.rsplit("-run", 1)[0]


# ---------------------------------------------------------------- the journeys
# Staff act at 09:00 or 10:00 at the site, never at 00:00 or 08:00: an update landing at the very instant a
# workflow timer fires is refused by the time-skipping server ("invalid history builder state for action").


async def record_scheduled_item(journey: JourneyClient, code: str) -> None:
    """What the site records on a scheduled item's target day, as the five-and-fifteen-year test does."""
    today = await journey.today()
    assessed = marrow(today) if code in ("MRD", "M12") else None
    for command in scheduled_item(PathPatient(study_id=journey.study_id), code, today, PROTOCOL_V1, assessed):
        await journey.do(command)


async def assess_first_week(journey: JourneyClient, day_zero: date) -> None:
    """Daily CRS and ICANS at 09:00 on days 1 to 6, a fever on day 1 (grade 1 CRS)."""
    for day in range(1, 7):
        await journey.move_to(day_zero + timedelta(days=day), hour=9)
        now = await journey.now()
        temperature = 38.3 if day == 1 else 36.8
        await journey.do(
            cmd.AssessCrs(actor=NURSE, assessed_at=now, findings=crs_findings(max_temperature_c=temperature))
        )
        await journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=now, findings=icans_findings()))


async def full_journey(journey: JourneyClient) -> None:
    """Enrollment to completion at year 15: every visit in its window, MRD, chemotherapy, the M12 assessment."""
    await journey.to_infusion()
    await assess_first_week(journey, await journey.infuse())
    items = sorted((await journey.status()).visits, key=lambda v: (v.target_date, v.code))
    for item in items:
        await journey.move_to(item.target_date, hour=10)
        await record_scheduled_item(journey, item.code)
    await journey.move_to(max(v.window_closes for v in items) + timedelta(days=2))


async def screen_failure(journey: JourneyClient) -> None:
    await journey.start(prior_car_t=True, spo2_room_air_percent=90.0)


async def crs_report_overdue_then_death(journey: JourneyClient) -> None:
    """Grade 3 CRS on day 3, its expedited report escalated overdue and sent late; death on day 6, reported."""
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=3), hour=9)
    result = await journey.do(
        cmd.AssessCrs(
            actor=PHYSICIAN,
            assessed_at=await journey.now(),
            findings=crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1),
        )
    )
    crs_report = result.events[-1].payload.report_id  # type: ignore[union-attr]
    await journey.move_to(day_zero + timedelta(days=5), hour=10)  # the report fell overdue on day 4
    await journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=crs_report, submitted_at=await journey.now(), sponsor_reference="SP-H31"
        )
    )
    await journey.move_to(day_zero + timedelta(days=6), hour=10)
    result = await journey.do(
        cmd.RecordDeath(actor=PHYSICIAN, died_on=await journey.today(), cause="refractory CRS", treatment_related=True)
    )
    death_report = result.events[-1].payload.report_id  # type: ignore[union-attr]
    await journey.move_to(day_zero + timedelta(days=6), hour=15)
    await journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=death_report, submitted_at=await journey.now(), sponsor_reference="SP-H32"
        )
    )


async def relapse_then_lost(journey: JourneyClient) -> None:
    """Visits to month 3, relapse found there; survival follow-up: M4 seen, M5 missed, then lost to follow-up."""
    await journey.to_infusion()
    await journey.infuse()
    items = sorted((await journey.status()).visits, key=lambda v: (v.target_date, v.code))
    for item in items:
        await journey.move_to(item.target_date, hour=10)
        await record_scheduled_item(journey, item.code)
        if item.code == "M3":
            break
    await journey.do(
        cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(await journey.today(), marrow_blasts_percent=30.0))
    )
    m4, m5 = (next(v for v in items if v.code == code) for code in ("M4", "M5"))
    await journey.move_to(m4.target_date, hour=10)
    await record_scheduled_item(journey, "M4")
    await journey.move_to(m5.window_closes + timedelta(days=3), hour=10)  # M5 reminded twice, then missed
    await journey.do(
        cmd.RecordLostToFollowUp(
            actor=COORDINATOR, last_contact_on=m4.target_date, reason="family moved; no contact after month 4"
        )
    )


async def custody_and_trial_reports(journey: JourneyClient) -> None:
    """The chain of custody required and the slot booked at consent; thawed cells waiting past their limit (the
    investigator told, the late infusion approved); the trial told of the infusion, a grade-3 CRS (a DLT) and its
    correction to grade 2 (the DLT withdrawn), then of the DLT window's end; taken off study after it."""
    await journey.to_infusion()
    status = await journey.status()
    infusion_item = next(d for d in status.due if d.code == "INFUSION")
    assert infusion_item.window_opens is not None and status.chain_of_identity is not None
    await journey.move_to(infusion_item.window_opens, hour=9)
    await journey.thaw()  # the end of thawing a quarter of an hour ago: the limit passes in another quarter
    await journey.skip_to(await journey.now() + timedelta(minutes=20))
    await journey.do(cmd.ApproveLateInfusionAfterThaw(actor=INVESTIGATOR, reason="the line had to be replaced"))
    await journey.do(journey.infusion(status.chain_of_identity, await journey.now()))
    day_zero = await journey.today()
    await journey.move_to(day_zero + timedelta(days=2), hour=9)
    grade_3 = cmd.AssessCrs(
        actor=PHYSICIAN,
        assessed_at=await journey.now(),
        findings=crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1),
    )
    result = await journey.do(grade_3)
    crs_entry, crs_report = result.events[0].sequence, result.events[-1].payload.report_id  # type: ignore[union-attr]
    await journey.move_to(day_zero + timedelta(days=2), hour=15)
    await journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=crs_report, submitted_at=await journey.now(), sponsor_reference="SP-H51"
        )
    )
    await journey.move_to(day_zero + timedelta(days=3), hour=10)
    await journey.do(
        grade_3.model_copy(
            update={
                "findings": crs_findings(max_temperature_c=39.4, hypotension=True),
                "correction": cmd.Correction(supersedes_sequence=crs_entry, reason="no vasopressor was given"),
            }
        )
    )
    window_days = PROTOCOL_V1.stopping_rule.dlt_observation_window_days
    await journey.move_to(day_zero + timedelta(days=window_days + 2), hour=10)
    await journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="moved to another centre after the DLT window"))


async def _reconsent_after_day_28(journey: JourneyClient, accepted: bool) -> date:
    """Enrolled under 1.0 as before amendments, infused, the day-28 MRD done, then the family's answer to 1.1."""
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=28), hour=10)
    await record_scheduled_item(journey, "MRD")
    await journey.do(
        cmd.RecordReconsent(
            actor=INVESTIGATOR,
            protocol_version="1.1",
            accepted=accepted,
            answered_on=await journey.today(),
            consent_form_version="ICF v1.1",
        )
    )
    return day_zero


async def amendment_reconsent(journey: JourneyClient) -> None:
    """A 1.0 patient re-consents to 1.1 after the day-28 MRD and moves onto it: the day-60 MRD reminded and done,
    month 3 seen 12 days after its target (inside 1.1's ± 14 days); taken off study after it."""
    day_zero = await _reconsent_after_day_28(journey, accepted=True)
    await journey.move_to(day_zero + timedelta(days=60), hour=10)
    await journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(await journey.today())))
    m3 = next(v for v in (await journey.status()).visits if v.code == "M3")
    await journey.move_to(m3.target_date + timedelta(days=12), hour=10)
    await journey.do(cmd.RecordVisit(actor=COORDINATOR, visit_code="M3", visit_date=await journey.today()))
    await journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="moved to another centre after month 3"))


async def amendment_declined(journey: JourneyClient) -> None:
    """A 1.0 patient's family declines 1.1: no day-60 MRD; taken off study after day 70."""
    day_zero = await _reconsent_after_day_28(journey, accepted=False)
    await journey.move_to(day_zero + timedelta(days=70), hour=10)
    await journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="moved to another centre after day 70"))


async def amendment_screening(journey: JourneyClient) -> None:
    """Screened under 1.1 (the client found it in effect): blinatumomab 10 days before screening excludes."""
    today = await journey.today()
    await journey.start(protocol_version="1.1", blinatumomab_or_inotuzumab_last_given=today - timedelta(days=10))


async def late_entry(journey: JourneyClient) -> None:
    """The path to the last lymphodepletion dose entered late, every step sent at once: one marker for the bundled
    patches, the wake timer kept across the steps that leave the next wake where it was; the infusion window then
    closes unused (the kept timer fires), and the patient is taken off study."""
    await journey.entered_late()
    infusion = next(d for d in (await journey.status()).due if d.code == "INFUSION")
    assert infusion.window_closes is not None
    await journey.move_to(infusion.window_closes + timedelta(days=1))
    await journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="the infusion window closed"))


JOURNEYS: dict[str, Callable[[JourneyClient], Awaitable[None]]] = {
    "full-journey": full_journey,
    "screen-failure": screen_failure,
    "crs-death": crs_report_overdue_then_death,
    "relapse-lost": relapse_then_lost,
    "custody-trial": custody_and_trial_reports,
    "amendment-reconsent": amendment_reconsent,
    "amendment-declined": amendment_declined,
    "amendment-screening": amendment_screening,
    "late-entry": late_entry,
}


# ---------------------------------------------------------------- histories


async def every_run(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Each run's history, first to last, following the continue-as-new chain (the test server cannot list)."""
    latest = await client.get_workflow_handle(workflow_id).fetch_history()
    run_id = latest.events[0].workflow_execution_started_event_attributes.first_execution_run_id
    histories: list[WorkflowHistory] = []
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
            return histories
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id


def write_histories(scenario: str, histories: list[WorkflowHistory], directory: Path) -> list[Path]:
    for stale in directory.glob(f"{scenario}-run*.json"):
        stale.unlink()
    written = []
    for run, history in enumerate(histories, start=1):
        path = history_file(scenario, run, directory)
        path.write_text(history.to_json() + "\n")
        written.append(path)
    return written


async def generate(directory: Path = HISTORIES_DIR, only: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Drive the journeys (only the scenarios named in `only`, if given) and replace their files."""
    unknown = sorted(set(only) - set(JOURNEYS))
    if unknown:
        raise SystemExit(f"no such scenario: {', '.join(unknown)} (known: {', '.join(JOURNEYS)})")
    env = await start_time_skipping()
    written: dict[str, list[Path]] = {}
    async with env:
        await register_search_attributes(env.client)
        with tempfile.TemporaryDirectory() as record_dir:
            store = EventStore(f"sqlite:///{Path(record_dir) / 'trial-record.db'}")
            store.migrate()
            try:
                task_queue = f"histories-{uuid.uuid4()}"
                async with journey_worker(env.client, store, task_queue=task_queue):
                    for scenario, drive in JOURNEYS.items():
                        if only and scenario not in only:
                            continue
                        journey = JourneyClient(env.client, task_queue, SCENARIOS[scenario], env=env)
                        await drive(journey)
                        await journey.handle.result()  # every scenario ends its journey: histories are complete
                        histories = await every_run(env.client, workflow_id_of(scenario))
                        written[scenario] = write_histories(scenario, histories, directory)
                        if scenario in TRIAL_SCENARIOS:  # the trial runs on: its history as far as it has settled
                            trial_id = trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, task_queue)
                            await settle(env.client, trial_id)
                            trial_histories = await every_run(env.client, trial_id)
                            written[TRIAL_PREFIX + scenario] = write_histories(
                                TRIAL_PREFIX + scenario, trial_histories, directory
                            )
            finally:
                store.close()
    return written


def main() -> None:
    """`python -m tests.histories.generate [scenario ...]`: every scenario, or only those named."""
    written = asyncio.run(generate(only=sys.argv[1:]))
    for scenario, paths in written.items():
        for path in paths:
            history = WorkflowHistory.from_json(workflow_id_of(scenario), path.read_text())
            print(f"{path.name:28} {len(history.events):5} events {path.stat().st_size:9,} bytes")


if __name__ == "__main__":
    main()
