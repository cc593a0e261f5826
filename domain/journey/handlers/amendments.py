"""Protocol amendments for a running patient: the family's signed re-consent, then the move onto the new version.

The move is its own step, issued by the workflow once nothing of the patient is in flight (docs/amendments.md):
deciding it here keeps the rule pure and replayable."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.phases import FINAL_PHASES, Phase
from domain.protocol import PROTOCOLS

_ON_STUDY = frozenset(Phase) - FINAL_PHASES - {Phase.NOT_ENROLLED}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def record_reconsent(ctx: Context, c: cmd.RecordReconsent) -> list[ev.EventPayload]:
    state = ctx.state
    if not ctx.require_phase(_ON_STUDY, "record a re-consent to an amendment"):
        return []
    ctx.check_day(c.answered_on, "the re-consent date", (state.screening_date, "screening"))
    version = c.protocol_version
    if version not in PROTOCOLS:
        ctx.refuse(f"unknown protocol version {version!r}; known: {', '.join(sorted(PROTOCOLS))}")
    elif _version_key(version) <= _version_key(state.protocol_version):
        ctx.refuse(f"{state.study_id} already follows protocol {state.protocol_version}: {version} is no amendment")
    if state.pending_protocol_version is not None:
        ctx.refuse(f"{state.study_id} already re-consented to {state.pending_protocol_version}; the move is pending")
    if version in state.declined_protocol_versions:
        ctx.refuse(f"the family already declined protocol {version}")
    return [
        ev.ReconsentRecorded(
            protocol_version=version,
            accepted=c.accepted,
            answered_on=c.answered_on,
            consent_form_version=c.consent_form_version,
        )
    ]


def move_to_protocol_version(ctx: Context, c: cmd.MoveToProtocolVersion) -> list[ev.EventPayload]:
    state = ctx.state
    if state.pending_protocol_version != c.protocol_version:
        ctx.refuse(f"{state.study_id} has not re-consented to protocol {c.protocol_version}")
        return []
    return [ev.ProtocolVersionChanged(from_version=state.protocol_version, to_version=c.protocol_version)]
