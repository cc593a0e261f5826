"""What a decision needs at hand: the state, the time, the protocol, and the reasons collected so far.

Handlers add every problem they find instead of stopping at the first, so a refusal names them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain.eligibility import age_in_completed_years
from domain.journey.phases import TRIAL_STOPPED_WORDS, ExitReason, Phase
from domain.journey.state import JourneyState
from domain.protocol import TrialProtocol
from domain.site_time import site_date

# Clocks on ward computers drift: a time this little ahead of the workflow's clock is not "in the future".
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)

_PHASE_WORDS = {
    Phase.NOT_ENROLLED: "not enrolled",
    Phase.SCREENING: "in screening, awaiting the investigator's confirmation of eligibility",
    Phase.CONSENT: "awaiting consent",
    Phase.APHERESIS: "awaiting apheresis",
    Phase.MANUFACTURING: "awaiting the manufactured product",
    Phase.LYMPHODEPLETION: "in lymphodepletion",
    Phase.INFUSION: "awaiting infusion",
    Phase.TOXICITY_OBSERVATION: "in toxicity observation after infusion",
    Phase.EARLY_FOLLOW_UP: "in early follow-up",
    Phase.FOLLOW_UP: "in follow-up",
    Phase.LONG_TERM_FOLLOW_UP: "in long-term follow-up",
    Phase.SURVIVAL_FOLLOW_UP: "in survival follow-up after relapse",
    Phase.COMPLETED: "finished with the study",
    Phase.OFF_STUDY: "off study",
}


class CommandRejected(Exception):
    """A command refused, with every reason, in words a nurse understands. Nothing was changed.

    `not_permitted`: the acting role may not issue this command at all (one of the reasons says who may).
    """

    def __init__(self, reasons: Sequence[str], *, not_permitted: bool = False) -> None:
        self.reasons = tuple(reasons)
        self.not_permitted = not_permitted
        super().__init__("; ".join(self.reasons))


def describe_phase(phase: Phase) -> str:
    return _PHASE_WORDS[phase]


@dataclass
class Context:
    state: JourneyState
    now: datetime
    protocol: TrialProtocol
    problems: list[str] = field(default_factory=list)
    # Whether an enrollment decided now records the cells' hand-offs (the workflow says, by its history's age).
    chain_of_custody: bool = False
    # False only to replay entries made before the clinical review (issue 16): a blank fever check, a typed "fever
    # masked" box, an adverse event's report clock started at data entry. New commands always follow the review.
    clinical_review: bool = True
    # Whether a screening decided now is judged on the induction criteria too (the workflow says, by its history's
    # age: screenings decided before them replay as they ran).
    induction_criteria: bool = True
    # Whether an infusion recorded now starts daily CRS/ICANS monitoring (histories infused before replay without).
    daily_monitoring: bool = True

    @property
    def today(self) -> date:
        return site_date(self.now, self.protocol.schedule)

    @property
    def patient(self) -> str:
        return self.state.study_id

    def refuse(self, reason: str) -> None:
        self.problems.append(reason)

    def require_phase(self, allowed: frozenset[Phase] | set[Phase], doing: str) -> bool:
        if self.state.phase in allowed:
            return True
        exit_record = self.state.exit
        why = f" ({TRIAL_STOPPED_WORDS})" if exit_record and exit_record.reason is ExitReason.TRIAL_STOPPED else ""
        self.refuse(f"cannot {doing}: {self.patient} is {describe_phase(self.state.phase)}{why}")
        return False

    def site_date_of(self, instant: datetime) -> date:
        return site_date(instant, self.protocol.schedule)

    def age_on(self, day: date) -> int:
        assert self.state.date_of_birth is not None
        return age_in_completed_years(self.state.date_of_birth, day)

    def check_day(self, day: date, what: str, not_before: tuple[date | None, str] | None = None) -> bool:
        """A clinical date must not be in the future nor before the step it follows."""
        ok = True
        if day > self.today:
            self.refuse(f"{what} {day.isoformat()} is in the future (today is {self.today.isoformat()})")
            ok = False
        earlier, earlier_what = not_before or (None, "")
        if earlier is not None and day < earlier:
            self.refuse(f"{what} {day.isoformat()} is before {earlier_what} ({earlier.isoformat()})")
            ok = False
        return ok

    def check_instant(
        self, instant: datetime, what: str, not_before: tuple[datetime | None, str] | None = None
    ) -> bool:
        if instant.tzinfo is None or instant.utcoffset() is None:
            self.refuse(f"{what} must include a time zone")
            return False
        ok = True
        if instant > self.now + CLOCK_SKEW_TOLERANCE:
            self.refuse(f"{what} {instant.isoformat()} is in the future")
            ok = False
        earlier_instant, earlier_what = not_before or (None, "")
        if earlier_instant is not None and instant < earlier_instant:
            self.refuse(f"{what} {instant.isoformat()} is before {earlier_what} ({earlier_instant.isoformat()})")
            ok = False
        return ok
