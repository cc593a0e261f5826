"""Which steps must be electronically signed, and whether a signature given is valid for the entry it is on.

The registry marks each step signed always, never, or when a condition holds; the condition is decided here, from
the entry and the patient's state, by the protocol's own rules (grades are computed, never typed)."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey.calendar import primary_endpoint_visit
from domain.journey.command_registry import COMMANDS, Signed
from domain.journey.context import CLOCK_SKEW_TOLERANCE, Context
from domain.journey.endpoints import one_year_marrow
from domain.signature import signed_content_sha256
from domain.toxicity import grade_crs, grade_icans, icans_findings_problems

_HOW = "sign it with your signing PIN"


def signature_needed(ctx: Context, command: cmd.Command) -> str | None:
    """Why `command` must be signed, in words; None when it need not be."""
    entry = COMMANDS[command.kind]
    if getattr(command, "correction", None) is not None:
        return "it corrects an earlier entry"
    if entry.signed is Signed.ALWAYS:
        return "it is one of the protocol's signed steps"
    if entry.signed is Signed.NEVER:
        return None
    return _condition(ctx, command)


def _condition(ctx: Context, command: cmd.Command) -> str | None:
    """The Signed.WHEN conditions other than a correction."""
    threshold = ctx.protocol.signatures.min_signed_toxicity_grade
    match command:
        case cmd.AssessCrs():
            grade = grade_crs(command.findings, ctx.protocol.crs).grade
            return f"the CRS grade is {grade} ({threshold} or higher is signed)" if grade >= threshold else None
        case cmd.AssessIcans():
            if command.assessed_at.utcoffset() is None or ctx.state.date_of_birth is None:
                return None  # the handler refuses the entry itself
            age = ctx.age_on(ctx.site_date_of(command.assessed_at))
            if icans_findings_problems(command.findings, age, ctx.protocol.icans):
                return None
            grade = grade_icans(command.findings, age, ctx.protocol.icans).grade
            return f"the ICANS grade is {grade} ({threshold} or higher is signed)" if grade >= threshold else None
        case cmd.RecordAdverseEvent():
            event = command.adverse_event
            if event.serious:
                return "the adverse event is serious (an SAE)"
            if event.ctcae_grade >= threshold:
                return f"the adverse event is CTCAE grade {event.ctcae_grade} ({threshold} or higher is signed)"
            return None
        case cmd.RecordDiseaseAssessment():
            visit = primary_endpoint_visit(ctx.state, ctx.protocol)
            if visit is None or command.marrow.assessed_on < visit.window_opens:
                return None
            late = command.marrow.assessed_on > visit.window_closes
            if not late or one_year_marrow(ctx.state, ctx.protocol) is None:  # the first late one is evaluable
                return "it is the one-year response assessment"
            return None
        case _:
            return None


def check_signature(ctx: Context, command: cmd.Command) -> None:
    """Refuse (into `ctx`) a signed step without a signature, and any signature not the actor's or not over this
    very entry."""
    signature = command.signature
    if signature is None:
        why = signature_needed(ctx, command)
        if why is not None:
            ctx.refuse(f"this step must be electronically signed: {why}; {_HOW}")
        return
    if signature.signer_user_id != command.actor.user_id:
        ctx.refuse(
            f"the signature is {signature.signer_user_id}'s but {command.actor.user_id} is making this entry: "
            "only the person making an entry may sign it"
        )
    if signature.signed_at > ctx.now + CLOCK_SKEW_TOLERANCE:
        ctx.refuse(f"the signature is dated {signature.signed_at.isoformat()}, in the future")
    if signature.signed_sha256 != signed_content_sha256(command):
        ctx.refuse(
            "the signature does not match this entry: it was signed over other values; "
            f"check the entry and {_HOW} again"
        )
