"""The benchmark's patients on the shared path to infusion (simulation/journey_steps.py), on the real clock.

Every step is dated in the past, as staff entering records late would date them (infusion an hour ago), so a
journey reaches infusion in a dozen updates: the recorded steps the benchmark times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.protocol import CURRENT_PROTOCOL, TrialProtocol
from domain.site_time import site_date
from simulation.journey_steps import DecidedJourney, Milestone, PathPatient, Step, enrollment, entered_late, send
from workflows.journey_messages import JourneyInput, RecordResult, timeline_entry
from workflows.journey_run_state import JourneyWorkflowState

STUDY_ID_PREFIX = "BN"
MAX_PATIENTS = 99_999  # study ids carry at most five digits
STAFF_USER_IDS = "bench-{role}"

Record = Callable[[cmd.StaffCommand], Awaitable[RecordResult]]


def study_id(number: int, prefix: str = STUDY_ID_PREFIX) -> str:
    return f"{prefix}-{number:05d}"


def infusion_moment(now: datetime | None = None) -> datetime:
    """An hour ago: every step of the path lies in the past, none in the future."""
    return (now or datetime.now(UTC)) - timedelta(hours=1)


def path(patient: str, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> list[Step]:
    """Confirm eligibility, consent, collect, release, prescribe, give every dose, infuse at `infused_at`."""
    day_zero = site_date(infused_at, protocol.schedule)
    return entered_late(Milestone.INFUSED, _patient(patient), day_zero, protocol, infused_at=infused_at)


def enrollment_for(patient: str, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> cmd.EnrollPatient:
    """An eligible nine-year-old, screened on the path's first day."""
    first = path(patient, infused_at, protocol)[0]
    return enrollment(_patient(patient), site_date(first.at, protocol.schedule), protocol)


async def walk_to_infusion(
    record: Record, patient: str, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> int:
    """The path sent through `record`, every step now; the updates sent."""
    return len(await send(path(patient, infused_at, protocol), record))


def rehearse(infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> int:
    """Walk the path through the pure decider first: how many updates it takes, or every reason it is refused.

    Cheap (no server), and a path the protocol no longer accepts fails here with the decider's own reasons
    instead of as a thousand identical errors under load.
    """
    return len(_walked(infused_at, protocol)[1])


def carried_at_infusion(infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> JourneyInput:
    """What a journey on this path carries into its run after infusion (the run before continues as new there): its
    folded state, its timeline and each step's answer, as the workflow builds them."""
    journey, steps = _walked(infused_at, protocol)
    state = JourneyWorkflowState(
        journey=journey.state,
        timeline=[timeline_entry(event) for event in journey.events],
        recent_updates={
            f"step-{n}": RecordResult(events=tuple(events)).model_dump_json() for n, events in enumerate(steps)
        },
        runs=1,
        era_at_start=None,
    )
    return JourneyInput(study_id=journey.state.study_id, carried=state.carried())


def _walked(infused_at: datetime, protocol: TrialProtocol) -> tuple[DecidedJourney, list[list[Event]]]:
    """One patient enrolled and walked to infusion by the pure decider; the events of each step."""
    patient = study_id(0)
    journey = DecidedJourney(patient, datetime.now(UTC), protocol)
    journey.do(enrollment_for(patient, infused_at, protocol))
    return journey, journey.walk(path(patient, infused_at, protocol), entered_late=True)


def _patient(patient: str) -> PathPatient:
    return PathPatient(study_id=patient, staff_user_ids=STAFF_USER_IDS)
