"""What `trial status` and `GET /trial` show: the enrollment state, the rule over evaluable patients, accrual."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from domain.protocol import FrozenModel, TrialProtocol
from domain.statistics import StoppingRuleStatus
from domain.trial.decide import (
    evaluable_patients,
    infused_count,
    lymphodepletion_refusal,
    more_dlts_to_pause,
    pending_patients,
    rule_status,
)
from domain.trial.state import DsmbRecord, Enrollment, TrialState


class PendingPatient(FrozenModel):
    study_id: str
    window_ends_at: AwareDatetime


class TrialStatus(FrozenModel):
    trial_identifier: str
    enrollment: Enrollment
    closed_because: str | None
    paused_at: AwareDatetime | None
    stopping_rule: StoppingRuleStatus  # over evaluable patients: the posterior P(rate > threshold | data)
    more_dlts_to_pause: int | None = Field(ge=0)  # None: no count within the accrual target would pause
    evaluable: tuple[str, ...]
    pending: tuple[PendingPatient, ...]
    admitted: int = Field(ge=0)
    infused: int = Field(ge=0)
    accrual_target_infused: int = Field(ge=1)
    decisions: tuple[DsmbRecord, ...]
    lymphodepletion_refused_because: str | None  # why no new lymphodepletion may start now; None: it may
    # Said while paused when the rule no longer fires (a correction withdrew a DLT): the pause stays for the DSMB.
    pause_note: str | None = None


PAUSE_STAYS = (
    "the stopping rule no longer fires (a correction withdrew a DLT), but enrollment stays paused until the DSMB "
    "decides"
)


def trial_status(state: TrialState, now: datetime, protocol: TrialProtocol) -> TrialStatus:
    rule = protocol.stopping_rule
    rule_now = rule_status(state, now, protocol)
    pending = []
    for p in sorted(pending_patients(state, now, protocol), key=lambda p: p.study_id):
        ends = p.window_ends_at(rule)
        assert ends is not None  # pending patients were infused
        pending.append(PendingPatient(study_id=p.study_id, window_ends_at=ends))
    return TrialStatus(
        trial_identifier=state.trial_identifier,
        enrollment=state.enrollment,
        closed_because=state.closed_because,
        paused_at=state.paused_at,
        stopping_rule=rule_now,
        more_dlts_to_pause=more_dlts_to_pause(state, now, protocol),
        evaluable=tuple(sorted(p.study_id for p in evaluable_patients(state, now, protocol))),
        pending=tuple(pending),
        admitted=len(state.patients),
        infused=infused_count(state),
        accrual_target_infused=protocol.accrual.accrual_target_infused,
        decisions=state.decisions,
        lymphodepletion_refused_because=lymphodepletion_refusal(state),
        pause_note=PAUSE_STAYS if state.enrollment is Enrollment.PAUSED and not rule_now.paused else None,
    )
