"""decide(state, command, now, protocol) -> events, or CommandRejected naming every reason.

The one place the protocol's rules about a patient's path are enforced. Pure: the same inputs always give
the same answer, so the workflow can run it in its update validator, its handler and during replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.journey import commands as cmd
from domain.journey.context import CommandRejected, Context
from domain.journey.events import Event, EventPayload
from domain.journey.handlers import enrollment, exits, follow_up, safety, treatment
from domain.journey.permissions import role_problem
from domain.journey.phases import Phase
from domain.journey.state import JourneyState
from domain.protocol import TrialProtocol

_Handler = Callable[[Context, Any], list[EventPayload]]

_HANDLERS: dict[str, _Handler] = {
    "enroll_patient": enrollment.enroll_patient,
    "confirm_eligibility": enrollment.confirm_eligibility,
    "record_consent": enrollment.record_consent,
    "record_apheresis": enrollment.record_apheresis,
    "record_product_release": enrollment.record_product_release,
    "record_manufacturing_failure": enrollment.record_manufacturing_failure,
    "prescribe_lymphodepletion": treatment.prescribe_lymphodepletion,
    "record_lymphodepletion_dose": treatment.record_lymphodepletion_dose,
    "decide_out_of_spec_product": treatment.decide_out_of_spec_product,
    "approve_infusion_outside_window": treatment.approve_infusion_outside_window,
    "record_infusion": treatment.record_infusion,
    "record_infusion_not_given": treatment.record_infusion_not_given,
    "expire_infusion_window": treatment.expire_infusion_window,
    "assess_crs": safety.assess_crs,
    "assess_icans": safety.assess_icans,
    "record_adverse_event": safety.record_adverse_event,
    "confirm_expedited_report": safety.confirm_expedited_report,
    "mark_expedited_report_overdue": safety.mark_expedited_report_overdue,
    "record_disease_assessment": follow_up.record_disease_assessment,
    "record_chemotherapy_resumed": follow_up.record_chemotherapy_resumed,
    "record_visit": follow_up.record_visit,
    "send_visit_reminder": follow_up.send_visit_reminder,
    "mark_visit_missed": follow_up.mark_visit_missed,
    "start_follow_up_era": follow_up.start_follow_up_era,
    "complete_journey": follow_up.complete_journey,
    "withdraw_consent": exits.withdraw_consent,
    "record_death": exits.record_death,
    "record_lost_to_follow_up": exits.record_lost_to_follow_up,
    "take_off_study": exits.take_off_study,
}


def decide(state: JourneyState, command: cmd.Command, now: datetime, protocol: TrialProtocol) -> list[Event]:
    """The events `command` produces, or CommandRejected with every reason it cannot be accepted."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("decide needs an aware `now` (the workflow's clock)")
    ctx = Context(state=state, now=now, protocol=protocol)
    payloads: list[EventPayload] = []
    problem = role_problem(command.kind, command.actor.role)
    if problem:
        ctx.refuse(problem)
    if state.phase is not Phase.NOT_ENROLLED and protocol.version != state.protocol_version:
        ctx.refuse(f"{state.study_id} follows protocol version {state.protocol_version}, not {protocol.version}")
    if state.phase is Phase.NOT_ENROLLED and command.kind != "enroll_patient":
        ctx.refuse(f"{state.study_id} is not enrolled yet")
    else:
        payloads = _HANDLERS[command.kind](ctx, command)
    if ctx.problems:
        raise CommandRejected(ctx.problems, not_permitted=problem is not None)
    version = state.protocol_version or protocol.version
    reason = _reason_of(command)
    return [
        Event(
            study_id=state.study_id,
            sequence=state.last_sequence + offset,
            occurred_at=now,
            actor=command.actor,
            protocol_version=version,
            reason=reason,
            payload=payload,
        )
        for offset, payload in enumerate(payloads, start=1)
    ]


def _reason_of(command: cmd.Command) -> str | None:
    """Why the entry was made, when the person said: a correction's or a decision's reason."""
    correction = getattr(command, "correction", None)
    if isinstance(correction, cmd.Correction):
        return correction.reason
    reason = getattr(command, "reason", None)
    return reason if isinstance(reason, str) else None
