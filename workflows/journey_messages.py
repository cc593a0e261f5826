"""The contracts of PatientJourneyWorkflow: its input, what it carries across continue-as-new, its results."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field, RootModel, model_validator

from activities.journey_activities import RecordHead
from domain.entered_content import added_later
from domain.journey import events as ev
from domain.journey.commands import EnrollPatient, StaffCommand
from domain.journey.events import Event
from domain.journey.phases import Phase
from domain.journey.state import JourneyState
from domain.journey.status_view import ExitRecord
from domain.protocol import FrozenModel
from domain.signature import Signature

# Retried commands are answered from memory; Temporal itself deduplicates update ids only within one run.
# Clients retry within minutes: the last few results are enough, and every new run carries them.
RECENT_UPDATES_KEPT = 20


class TimelineEntry(FrozenModel):
    sequence: int
    occurred_at: datetime
    type: str
    actor_user_id: str
    actor_role: str
    reason: str | None = None
    signature: Signature | None = None  # the entry's electronic signature: printed name, time, meaning, hash
    supersedes: int | None = None  # a correction: the entry it corrects (which stays on the timeline)
    # What staff must see of the entry at a glance: a CRS or ICANS grade and its reasons, a dose, a report's clock.
    details: tuple[str, ...] = ()


def timeline_entry(event: Event) -> TimelineEntry:
    """One line of a patient's timeline: the workflow's own and the record's (when the workflow cannot answer)."""
    return TimelineEntry(
        sequence=event.sequence,
        occurred_at=event.occurred_at,
        type=event.type,
        actor_user_id=event.actor.user_id,
        actor_role=event.actor.role.value,
        reason=event.reason,
        signature=event.signature,
        supersedes=getattr(event.payload, "supersedes", None),
        details=entry_details(event.payload),
    )


def entry_details(payload: ev.EventPayload) -> tuple[str, ...]:
    """The lines a timeline shows under an entry: grades with their reasons, masking doses, a report's clock."""
    match payload:
        case ev.CrsAssessed():
            return (f"CRS grade {payload.grade}", *payload.reasons)
        case ev.IcansAssessed():
            return (f"ICANS grade {payload.grade}", *payload.reasons)
        case ev.FeverMaskingDoseGiven():
            return (f"{payload.drug.value} {payload.dose_mg:g} mg given {payload.given_at.isoformat()}",)
        case ev.ExpeditedReportOpened():
            aware = f" (aware {payload.aware_at.isoformat()})" if payload.aware_at is not None else ""
            return (f"report {payload.report_id} due {payload.due_at.isoformat()}{aware}", *payload.reasons)
        case ev.ReconsentRecorded():
            answer = "accepted" if payload.accepted else "declined"
            return (
                f"protocol {payload.protocol_version} {answer} on {payload.answered_on.isoformat()} "
                f"(consent form {payload.consent_form_version})",
            )
        case ev.ProtocolVersionChanged():
            return (f"now follows protocol {payload.to_version} (was {payload.from_version})",)
        case _:
            return ()


class StaffCommandMessage(RootModel[StaffCommand]):
    """A staff command as the journey's `record` update takes it: the same JSON as the command itself (clients send the
    command). A model, so the worker decodes it with this class's one validator: the SDK's converter caches type
    adapters per workflow, and the bare union got a validator of its own in every run (about 47 KiB of RSS each)."""


class RecordResult(FrozenModel):
    """What an accepted command produced."""

    events: tuple[Event, ...]


class RecentUpdate(FrozenModel):
    """An update's answer, carried so that a retry that reaches the next run is answered again, never reapplied."""

    update_id: str
    # The answer as its JSON text: one string held for the run's life (the SDK keeps a run's decoded input) where
    # the decoded answer was some twenty models, about 2 KiB (docs/performance.md, issue 19).
    answer: str | None = None
    result: RecordResult | None = None  # runs carried before answers were text

    @model_validator(mode="after")
    def _one_answer(self) -> RecentUpdate:
        if (self.answer is None) == (self.result is None):
            raise ValueError("a recent update carries its answer as text or as a result, exactly one")
        return self

    def answer_text(self) -> str:
        """The answer as JSON text, however it was carried."""
        if self.result is not None:
            return self.result.model_dump_json()
        return self.answer or ""  # never empty: the validator requires one of the two


class CarriedState(FrozenModel):
    """Everything a new run needs: the folded state, the timeline, and the recent update ids."""

    state: JourneyState
    timeline: tuple[TimelineEntry, ...] = ()
    recent_updates: tuple[RecentUpdate, ...] = ()
    runs: int = 1
    record_head: RecordHead | None = None  # the trial record's head after the last append (a second witness)


class JourneyInput(FrozenModel):
    study_id: str
    # The first run's enrollment; with `screen_failure` (or `carried`, in journeys re-screened before it existed), a
    # screen failure's new screening attempt, in a new run that starts from the trial record's state.
    enrollment: EnrollPatient | None = None
    carried: CarriedState | None = None  # every later run
    # The protocol version the first screening follows, as the site's effective dates give it on the screening date
    # (config: protocol_effective_dates); None in journeys started before amendments: the base version, 1.0. Sealed
    # with the rest of the start when given (a start sealed before it existed still verifies: `added_later`).
    protocol_version: str | None = added_later(None)
    # A screen failure screened again: the state the facade read from the trial record, as the JSON it sent. The
    # start's seal covers this text as it was, so the seal still verifies when the journey replays on code whose
    # state models have grown fields since (a sealed model would be re-serialized with them).
    screen_failure: str | None = added_later(None)

    def starting_from(self) -> CarriedState | None:
        """The state this run starts from: the run before's, or the screen failure's that is screened again."""
        if self.screen_failure is not None:
            return CarriedState.model_validate_json(self.screen_failure)
        return self.carried


class JourneySummary(FrozenModel):
    """How a journey ended: returned when the workflow closes."""

    study_id: str
    phase: Phase
    exit: ExitRecord | None
    infused_on: date | None
    completed_on: date | None
    highest_crs_grade: int
    highest_icans_grade: int
    primary_endpoint: str
    events_recorded: int
    runs: int = Field(ge=1)
    record_head: RecordHead | None = None  # the trial record's head after the journey's last append
