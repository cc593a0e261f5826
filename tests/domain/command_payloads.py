"""Hypothesis strategies for staff commands as a client puts them on the wire: JSON documents built from each command
model's own fields (so a new field is fuzzed without touching this file), mostly plausible for the patient at hand,
often at or just past a boundary, sometimes of the wrong type, huge, NaN or infinite, dated in the future or before
the child was born. Encoded as the Temporal payload the pydantic converter would send, or could never send.

What is plausible depends on the patient at the moment the command is sent (today, their chain of identity, their
open reports), but Hypothesis must draw the same way whatever the patient's state: documents hold placeholders
(`Relative`) that `materialize` resolves against a `PatientContext` just before sending.
"""

from __future__ import annotations

import json
import math
import types
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload

from domain.journey.commands import StaffCommand
from domain.journey.permissions import ALLOWED_ROLES
from domain.journey.phases import Phase
from domain.roles import Role
from domain.signature import SignatureMeaning, sign

Strategy = st.SearchStrategy[Any]

# Every staff command model by its kind: the union the `record` update accepts.
STAFF_COMMANDS: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default: model for model in get_args(get_args(StaffCommand)[0])
}
SYSTEM_KINDS = sorted(set(ALLOWED_ROLES) - set(STAFF_COMMANDS))
# The commands the protocol expects next in each phase: sent half the time, so that fuzzed journeys move on.
LIKELY_KINDS: dict[Phase, tuple[str, ...]] = {
    Phase.SCREENING: ("confirm_eligibility",),
    Phase.CONSENT: ("record_consent",),
    Phase.APHERESIS: ("record_apheresis",),
    Phase.MANUFACTURING: ("record_custody_hand_off", "record_product_release", "record_manufacturing_failure"),
    Phase.LYMPHODEPLETION: (
        "prescribe_lymphodepletion",
        "record_lymphodepletion_dose",
        "decide_out_of_spec_product",
        "record_custody_hand_off",
        "decide_temperature_excursion",
    ),
    Phase.INFUSION: (
        "record_infusion",
        "approve_infusion_outside_window",
        "decide_out_of_spec_product",
        "record_custody_hand_off",
        "approve_late_infusion_after_thaw",
    ),
    Phase.TOXICITY_OBSERVATION: (
        "assess_crs",
        "assess_icans",
        "record_adverse_event",
        "record_fever_masking_dose",
        "confirm_expedited_report",
    ),
    Phase.EARLY_FOLLOW_UP: ("record_visit", "record_disease_assessment", "record_chemotherapy_resumed"),
    Phase.FOLLOW_UP: ("record_visit", "record_disease_assessment", "record_adverse_event"),
    Phase.LONG_TERM_FOLLOW_UP: ("record_visit",),
    Phase.SURVIVAL_FOLLOW_UP: ("record_visit",),
}
PATH_KINDS = tuple(sorted({kind for kinds in LIKELY_KINDS.values() for kind in kinds}))
# Ways off the study: fuzzed like the rest, but drawn a fifth as often, or most journeys would end early.
EXIT_KINDS = frozenset({"withdraw_consent", "record_death", "record_lost_to_follow_up", "take_off_study"})

# Odd offsets a ward computer might send; +14:00 and -12:00 are the extremes in use, +23:59 the format's limit.
OFFSETS = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))]
FAR_OFFSETS = [timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=23, minutes=59))]
HUGE_LENGTHS = [2_001, 10_000, 100_000]
ODD_TEXT = [
    "",
    "   ",
    "\t\n",
    "a\x00b",  # NUL: invisible, and PostgreSQL refuses it in text
    "bell\x07",
    "\u202eevil",  # right-to-left override
    "naïve ünïcödé 中文 🙂",
    "'; DROP TABLE trial_events; --",
    "${jndi:ldap://x}",
    "\ud7ff\ue000",
]


@dataclass(frozen=True)
class PatientContext:
    """What a plausible command for this patient looks like now: the workflow's clock and the patient's labels."""

    study_id: str
    now: datetime
    today: date
    date_of_birth: date
    chain_of_identity: str | None
    report_ids: tuple[str, ...]
    due_codes: tuple[str, ...]
    last_sequence: int
    phase: Phase


# ---------------------------------------------------------------- values relative to the patient


@dataclass(frozen=True)
class Relative:
    """A value that depends on the patient when the command is sent: `what` names it, `amount` tunes it."""

    what: Literal["day", "instant", "birth", "coi", "report", "visit", "sequence", "study", "signature"]
    amount: int = 0
    zone: timezone = UTC

    def resolve(self, context: PatientContext) -> Any:
        match self.what:
            case "day":
                return (context.today + timedelta(days=self.amount)).isoformat()
            case "instant":
                return (context.now + timedelta(minutes=self.amount)).astimezone(self.zone).isoformat()
            case "birth":
                return (context.date_of_birth + timedelta(days=self.amount)).isoformat()
            case "coi":
                coi = context.chain_of_identity or "COI-NONE"
                return [coi, coi, coi, coi.lower(), coi + "-X", "COI-XX"][self.amount % 6]
            case "report":
                reports = [*context.report_ids, "ER-99999"]
                return reports[self.amount % len(reports)]
            case "visit":
                codes = [*context.due_codes, "D7", "M12", "X9", "d7"]
                return codes[self.amount % len(codes)]
            case "sequence":
                return 1 + self.amount % max(1, context.last_sequence + 1)
            case "study":
                return [context.study_id, "TF-001", "tf-001"][self.amount % 3]
            case "signature":  # resolved with the whole command (`materialize`); elsewhere, no signature
                return None


def _signed(document: dict[str, Any], marker: Relative, context: PatientContext) -> dict[str, Any]:
    """The command document signed over its own values once they are resolved: mostly by its actor (valid), else
    by someone else, or not at all; a document that is no command gets no signature."""
    resolved = {key: materialize(value, context) for key, value in document.items() if key != "signature"}
    if marker.amount % 4 == 3:
        return resolved
    model = STAFF_COMMANDS.get(str(resolved.get("kind")))
    try:
        command = model.model_validate(resolved) if model is not None else None
    except ValidationError:
        command = None
    if command is None:
        return resolved
    signer = getattr(command, "actor").user_id if marker.amount % 4 != 2 else "someone.else"  # noqa: B009
    signature = sign(
        command,
        signer_user_id=signer,
        printed_name="Fuzz Signer",
        signed_at=context.now,
        meaning=SignatureMeaning.AUTHOR,
    ).signature
    assert signature is not None
    return {**resolved, "signature": signature.model_dump(mode="json")}


def materialize(document: Any, context: PatientContext) -> Any:
    """The document with every `Relative` resolved for the patient as they are now."""
    if isinstance(document, Relative):
        return document.resolve(context)
    if isinstance(document, dict):
        marker = document.get("signature")
        if isinstance(marker, Relative) and marker.what == "signature":
            return _signed(document, marker, context)
        return {key: materialize(value, context) for key, value in document.items()}
    if isinstance(document, list):
        return [materialize(value, context) for value in document]
    return document


# ---------------------------------------------------------------- JSON on the wire


def json_payload(document: Any) -> Payload:
    """The payload the pydantic converter sends for a JSON value; NaN and infinity as the bare tokens JSON lacks."""
    data = json.dumps(document, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def raw_payloads() -> st.SearchStrategy[Payload]:
    """Payloads that are not a command at all: other JSON, broken JSON, other encodings, very large or deep."""
    documents = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=3),
        st.just({}),
        st.just({"kind": "record_everything"}),
        st.sampled_from(SYSTEM_KINDS).map(lambda kind: {"kind": kind, "actor": {"user_id": "x", "role": "system"}}),
        st.sampled_from(sorted(STAFF_COMMANDS)).map(lambda kind: {"kind": kind}),
        st.sampled_from([50, 1_000]).map(_nested),
        st.just(
            {"kind": "take_off_study", "actor": {"user_id": "u", "role": "investigator"}, "reason": "x" * 1_000_000}
        ),
    )
    broken = st.sampled_from(
        [b"", b"{", b"{'kind': 'x'}", b"\xff\xfe\x00", b"null null", b'{"kind": "take_off_study",}']
    )
    return st.one_of(
        documents.map(json_payload),
        broken.map(lambda data: Payload(metadata={"encoding": b"json/plain"}, data=data)),
        st.sampled_from([b"binary/plain", b"json/protobuf", b"binary/null", b"no-such-encoding"]).map(
            lambda encoding: Payload(metadata={"encoding": encoding}, data=b'{"kind": "take_off_study"}')
        ),
        st.just(Payload(metadata={}, data=b"{}")),
    )


def _nested(depth: int) -> Any:
    document: Any = {"kind": "record_visit"}
    for _ in range(depth):
        document = {"kind": "record_visit", "correction": document}
    return document


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class FuzzedCommand:
    """A drawn command of any kind, and one of each kind the protocol's path may expect: which is sent is decided
    when it is sent, by the patient's phase (drawing cannot depend on it)."""

    any_kind: dict[str, Any]
    on_path: dict[str, dict[str, Any]]
    follow_path: bool
    pick: int

    def for_patient(self, context: PatientContext) -> Any:
        expected = [kind for kind in LIKELY_KINDS.get(context.phase, ()) if kind in self.on_path]
        document = self.on_path[expected[self.pick % len(expected)]] if self.follow_path and expected else self.any_kind
        return materialize(document, context)


def fuzzed_commands(kinds: tuple[str, ...] = tuple(sorted(STAFF_COMMANDS))) -> st.SearchStrategy[FuzzedCommand]:
    path = [kind for kind in PATH_KINDS if kind in kinds]
    return st.builds(
        FuzzedCommand,
        any_kind=staff_command_documents(kinds),
        on_path=st.fixed_dictionaries({kind: staff_command_documents((kind,)) for kind in path}),
        follow_path=st.booleans(),
        pick=st.integers(0, 2),
    )


@st.composite
def staff_command_documents(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(sorted(STAFF_COMMANDS))) -> dict[str, Any]:
    """One staff command as a JSON document (with `Relative` placeholders): its kind, then how far off it is (not
    at all, a little, a lot), then each field."""
    weighted = [kind for kind in kinds for _ in range(1 if kind in EXIT_KINDS else 5)]
    kind = draw(st.sampled_from(weighted), label="kind")
    off_rate = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 5, 20, 100]), label="percent of fields off")
    document = _model_document(draw, STAFF_COMMANDS[kind], off_rate, kind)
    document["kind"] = kind
    structural = draw(st.integers(0, 99))
    if structural < 2 and len(document) > 2:  # a required field missing
        document.pop(draw(st.sampled_from(sorted(k for k in document if k != "kind"))))
    elif structural < 4:
        document[draw(st.sampled_from(["extra", "kind ", "Actor", "__proto__"]))] = "unexpected"
    elif structural < 6:
        document["kind"] = draw(st.sampled_from([kind.upper(), kind + "s", " " + kind, *SYSTEM_KINDS]))
    return document


def _model_document(draw: st.DrawFn, model: type[BaseModel], off_rate: int, kind: str) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name == "kind":
            continue
        if not field.is_required() and draw(st.integers(0, 99)) < 10:
            continue  # left to its default
        off = draw(st.integers(0, 99)) < off_rate
        document[name] = draw(_field_values(name, field.annotation, field.metadata, off, kind))
    return document


def _mostly(usual: Strategy, rare: Strategy, rare_percent: int = 10) -> Strategy:
    return st.integers(0, 99).flatmap(lambda roll: rare if roll < rare_percent else usual)


def _field_values(name: str, annotation: Any, metadata: list[Any], off: bool, kind: str) -> Strategy:
    hinted = _hinted(name, kind)
    if hinted is not None and (not off or name == "actor"):
        return hinted
    annotation, metadata = _unwrapped(annotation, metadata)
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        inner = st.one_of(*(_field_values(name, a, metadata, off, kind) for a in options))
        if off:
            return inner
        # A correction names an earlier entry of the same kind: mostly there is none to correct.
        return _mostly(st.none(), inner, 20) if name == "correction" else _mostly(inner, st.none(), 25)
    if off:
        return st.one_of(_wrong_type(), _off_value(annotation, metadata))
    return _plausible(name, annotation, metadata, kind)


def _unwrapped(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    while get_origin(annotation) is Annotated:
        annotation, *more = get_args(annotation)
        metadata = [*metadata, *more]
    return annotation, metadata


def _hinted(name: str, kind: str) -> Strategy | None:
    """Values the patient's own record makes plausible, so that commands are accepted often enough."""
    if name == "actor":
        right = sorted(ALLOWED_ROLES[kind])
        users = _mostly(st.sampled_from(["dr.li", "nurse.wang", "ph.zhou"]), st.text(min_size=0, max_size=70), 5)
        roles = _mostly(st.sampled_from(right), st.sampled_from([*Role, "root", None]), 5)
        return st.builds(lambda user, role: {"user_id": user, "role": role}, users, roles)
    relatives = {
        "product_label_coi": "coi",
        "report_id": "report",
        "visit_code": "visit",
        "supersedes_sequence": "sequence",
        "study_id": "study",
    }
    if name in relatives:
        return st.integers(0, 11).map(lambda n: Relative(relatives[name], n))
    if name == "signature":
        return st.integers(0, 7).map(lambda n: Relative("signature", n))
    if name == "date_of_birth":
        return st.just(Relative("birth"))
    if name == "child_assent_obtained":  # the fuzzed children are 9: without assent, no consent, no journey
        return _mostly(st.just(True), st.sampled_from([False, None]), 30)
    return None


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    """The field's bounds, from annotated-types (Ge, MaxLen, ...) and pydantic's StringConstraints alike."""
    found: dict[str, Any] = {}
    for item in metadata:
        for attribute in ("gt", "ge", "lt", "le", "min_length", "max_length", "multiple_of"):
            value = getattr(item, attribute, None)
            if value is not None:
                found.setdefault(attribute, value)
    return found


def _plausible(name: str, annotation: Any, metadata: list[Any], kind: str) -> Strategy:
    limits = _constraints(metadata)
    if get_origin(annotation) is Literal:
        return st.sampled_from(get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from([member.value for member in annotation])
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = limits.get("ge", limits.get("gt", -1) + 1 if "gt" in limits else 0)
        high = limits.get("le", limits.get("lt", low + 101) - 1 if "lt" in limits else low + 100)
        step = limits.get("multiple_of", 1)
        return st.integers(math.ceil(low / step), high // step).map(lambda n: n * step)
    if annotation is float:
        low = limits.get("ge", limits.get("gt", 0.0))
        high = limits.get("le", limits.get("lt", low + 1_000.0))
        return st.floats(low, high, exclude_min="gt" in limits, exclude_max="lt" in limits)
    if annotation is str:
        top = min(limits.get("max_length", 40), 40)
        letters = st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"])
        return st.text(letters, min_size=max(1, limits.get("min_length", 1)), max_size=top).filter(str.strip)
    if annotation is date:  # today, half the time; else up to two months ago
        return _mostly(st.just(0), st.integers(-60, -1), 50).map(lambda days: Relative("day", days))
    if annotation is datetime:  # now, half the time; else up to three days ago, in the site's or another zone
        minutes = _mostly(st.just(0), st.integers(-72 * 60, -1), 50)
        return st.builds(lambda n, zone: Relative("instant", n, zone), minutes, st.sampled_from(OFFSETS))
    if get_origin(annotation) is tuple:
        [item, _ellipsis] = get_args(annotation)
        return st.lists(_field_values(name, item, [], False, kind), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        model = annotation
        return st.composite(lambda draw: _model_document(draw, model, 0, kind))()
    raise NotImplementedError(f"no strategy for {name}: {annotation!r}")


def _off_value(annotation: Any, metadata: list[Any]) -> Strategy:
    """At or past a boundary: the edge itself, one step beyond it, extremes, and the dates that make no sense."""
    limits = _constraints(metadata)
    if annotation is int:
        edges = [limits[k] for k in ("ge", "le", "gt", "lt") if k in limits]
        beyond = [limits["ge"] - 1] if "ge" in limits else []
        beyond += [limits["le"] + 1] if "le" in limits else []
        return st.sampled_from([*edges, *beyond, 2**63, -(2**63), 10**30, 1.5, True])
    if annotation is float:
        edges = [float(limits[k]) for k in ("gt", "ge", "lt", "le") if k in limits]
        beyond = [math.nextafter(limits["gt"], -math.inf)] if "gt" in limits else []
        beyond += [math.nextafter(limits["le"], math.inf)] if "le" in limits else []
        return st.sampled_from([*edges, *beyond, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0])
    if annotation is str:
        top = limits.get("max_length", 2_000)
        repeated = st.builds(
            lambda n, c: c * n, st.sampled_from([top, top + 1, *HUGE_LENGTHS]), st.sampled_from(["x", "é", "🙂"])
        )
        return st.one_of(st.sampled_from(ODD_TEXT), repeated)
    if annotation is date:
        relative = [Relative("day", 1), Relative("day", 3_650), Relative("birth", -1), Relative("birth")]
        fixed = [date.min.isoformat(), date.max.isoformat(), "2026-02-30", "yesterday", "2026-1-1", "20260105"]
        return st.sampled_from([*relative, *fixed, 20260105, 1e20, -1])
    if annotation is datetime:
        ten_years = 3_650 * 24 * 60  # minutes: ahead, nonsense; back, before the child was born
        relative = [Relative("instant", 4), Relative("instant", 6), Relative("instant", ten_years)]
        relative += [Relative("instant", -ten_years)]
        extremes = [datetime.min.replace(tzinfo=zone).isoformat() for zone in FAR_OFFSETS]
        extremes += [datetime.max.replace(tzinfo=zone).isoformat() for zone in FAR_OFFSETS]
        texts = ["2026-01-05T10:00:00", "not a time", "2026-13-01T00:00:00Z", "2026-01-05T10:00:00+99:00"]
        return st.sampled_from([*relative, *extremes, *texts, 1e20, 0])
    if get_origin(annotation) is tuple:
        return st.sampled_from([[{}] * 11, [None], "not a list"])
    if get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return st.sampled_from(["", "UNKNOWN", "None", 1])
    return _wrong_type()


def _wrong_type() -> Strategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.sampled_from([math.nan, math.inf, -math.inf]),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
