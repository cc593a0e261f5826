"""What one run of PatientJourneyWorkflow holds, in a module of its own so the sandbox passes it through: the class
is made once per process (a dataclass made for every run cost its generated methods' compilation and about 10 KiB
per cached journey). It holds no module state; each run has its own instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.journey_activities import RecordHead
from domain.journey import CommandRejected, JourneyState, initial_state
from domain.journey.events import Event
from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1, TrialProtocol
from workflows.journey_messages import (
    RECENT_UPDATES_KEPT,
    CarriedState,
    JourneyInput,
    RecentUpdate,
    TimelineEntry,
)


@dataclass
class JourneyWorkflowState:
    """Everything one run of the workflow holds: what it carries to the next run (the journey, its timeline, the
    recent update answers, the run count), then this run's own progress. History holds only `carried()`."""

    journey: JourneyState
    timeline: list[TimelineEntry]
    # By update id, each answer as its JSON text: a retried command is answered again, never reapplied.
    recent_updates: dict[str, str]
    runs: int
    era_at_start: Phase | None  # a new follow-up era starts a new run
    enrollment: tuple[Event, ...] = ()  # decided when the first run starts, recorded by run() before any command
    enrollment_refused: CommandRejected | None = None
    ready: bool = False  # the enrollment is recorded (or carried): staff commands may apply
    moving_to_new_run: bool = False  # waiting for handlers before continue-as-new: new commands go to the next run
    woken: bool = False  # a command was applied: the main loop looks again at what is due
    updates_this_run: int = 0
    search_attributes: dict[str, object] = field(default_factory=dict)  # as last upserted
    # The record's head after the last append, as the append activity returned it: Temporal's history witnesses it.
    record_head: RecordHead | None = None

    # The protocol a first screening follows: the one the client found in effect at the site on the screening date
    # (journeys started before amendments existed carry none: 1.0).
    enrolling_under: TrialProtocol = PROTOCOL_V1
    # An amendment this run will not move the patient onto (refused, or a replay without the move's patch): not
    # tried again, so the main loop never spins on it.
    move_not_taken: str | None = None

    @classmethod
    def starting(cls, journey: JourneyInput) -> JourneyWorkflowState:
        """A first run's state from its study id, or a later run's from what the run before carried."""
        carried = journey.starting_from()
        if carried is None:
            state = initial_state(journey.study_id)
            return cls(journey=state, timeline=[], recent_updates={}, runs=1, era_at_start=state.era)
        return cls(
            journey=carried.state,
            timeline=list(carried.timeline),
            recent_updates={u.update_id: u.answer_text() for u in carried.recent_updates},
            runs=carried.runs,
            era_at_start=carried.state.era,
            ready=journey.enrollment is None,  # a new screening attempt is recorded before any command
            record_head=carried.record_head,
        )

    def carried(self) -> CarriedState:
        """What the next run starts from: the journey, its timeline and the last few update answers."""
        recent = list(self.recent_updates.items())[-RECENT_UPDATES_KEPT:]
        return CarriedState(
            state=self.journey,
            timeline=tuple(self.timeline),
            recent_updates=tuple(RecentUpdate(update_id=k, answer=v) for k, v in recent),
            runs=self.runs + 1,
            record_head=self.record_head,
        )
