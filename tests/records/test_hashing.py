"""The hash recipe is a published, frozen format: an auditor can recompute it; it never silently changes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records import GENESIS_HASH, EventStore
from records.hashing import canonical_json, event_hash, utc_timestamp
from tests.records.conftest import STUDY, make_event

# Pinned: a change of the canonical form would make every record ever stored fail verification.
GOLDEN_HASH = "3e0502994ebe5165aef06aa09749701dbace2bc073d23575fc977b04ee3cfa1a"
GOLDEN_REASON = "Weight re-measured on the calibrated scale: 21,4 → 21.4 kg (µ²)"
# The same event with no reason given: the hashed document holds "reason": null.
GOLDEN_HASH_WITHOUT_REASON = "e306d7e44123a1aa329131e4841ee5fcfece9b5b31d9767337fc643ab87eb023"


def auditors_hash(stored_fields: dict[str, object], previous_hash: str) -> str:
    """The recipe as documented in records/hashing.py, re-implemented from the words alone."""
    document = {**stored_fields, "format": "trialflow.trial-event.v1", "previous_hash": previous_hash}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def golden_event_hash(reason: str | None = GOLDEN_REASON) -> str:
    return event_hash(
        {
            "study_id": "TF-001",
            "sequence": 1,
            "event_type": "PatientEnrolled",
            "occurred_at": datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
            "recorded_at": datetime(2025, 3, 1, 8, 31, 0, 250000, tzinfo=UTC),
            "actor_user_id": "coordinator.ng",
            "actor_role": "research_coordinator",
            "protocol_version": "1.0",
            "payload": canonical_json({"arm": "CD19/CD22", "weight_kg": 21.4, "note": "µ²"}),
            "reason": reason,
            "previous_hash": GENESIS_HASH,
        }
    )


def test_the_hash_recipe_is_frozen() -> None:
    assert golden_event_hash() == GOLDEN_HASH
    assert golden_event_hash(None) == GOLDEN_HASH_WITHOUT_REASON


def test_the_reference_hashes_follow_from_the_documented_recipe_alone() -> None:
    fields: dict[str, object] = {
        "study_id": "TF-001",
        "sequence": 1,
        "event_type": "PatientEnrolled",
        "occurred_at": "2025-03-01T08:30:00.000000Z",
        "recorded_at": "2025-03-01T08:31:00.250000Z",
        "actor_user_id": "coordinator.ng",
        "actor_role": "research_coordinator",
        "protocol_version": "1.0",
        "payload": '{"arm":"CD19/CD22","note":"\\u00b5\\u00b2","weight_kg":21.4}',
    }
    assert auditors_hash({**fields, "reason": GOLDEN_REASON}, GENESIS_HASH) == GOLDEN_HASH
    assert auditors_hash({**fields, "reason": None}, GENESIS_HASH) == GOLDEN_HASH_WITHOUT_REASON


def test_the_reason_is_sealed_by_the_hash() -> None:
    hashes = {
        golden_event_hash(reason)
        for reason in (None, GOLDEN_REASON, GOLDEN_REASON + " ", "null", "", "Weight re-measured")
    }
    assert len(hashes) == 6  # no reason, and every spelling of one, hash apart (even "null" and "")


def test_an_auditor_can_recompute_every_stored_hash_from_the_documented_recipe(store: EventStore) -> None:
    store.append(
        [
            make_event(1),
            make_event(2, payload={"dose_mg": 12.5, "unit": "mg/m²", "b": {"z": 1, "a": 2}}),
            make_event(3, reason="Dose recalculated: body surface 0.82 m² → 0.84 m², réévalué 👍"),
        ]
    )

    previous = GENESIS_HASH
    for stored in store.stored_events_for(STUDY):
        event = stored.event
        fields = {
            "study_id": event.study_id,
            "sequence": event.sequence,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "recorded_at": stored.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_user_id": event.actor_user_id,
            "actor_role": event.actor_role,
            "protocol_version": event.protocol_version,
            "payload": json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True),
            "reason": event.reason,
        }
        assert stored.previous_hash == previous
        assert auditors_hash(fields, previous) == stored.hash
        previous = stored.hash
    assert [stored.event.reason is None for stored in store.stored_events_for(STUDY)] == [True, True, False]


def test_canonical_json_has_one_spelling_per_value() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1.5, None], "c": "µ"}}) == '{"a":{"c":"\\u00b5","d":[1.5,null]},"b":1}'
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": float("nan")})


@settings(max_examples=60)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), st.lists, max_leaves=8),
        max_size=6,
    )
)
def test_canonical_json_ignores_key_order_and_round_trips(value: dict[str, object]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)
    assert json.loads(canonical_json(value)) == value


def test_timestamps_are_spelled_in_utc_with_microseconds() -> None:
    assert utc_timestamp(datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-12-31T23:00:00.000000Z"
    )
    with pytest.raises(ValueError, match="has no time zone"):
        utc_timestamp(datetime(2025, 1, 1))
