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
GOLDEN_HASH = "7b06802bffed7506ebca148b6fe3541e87dbaa2694dac39fd86c6abafe85c27c"


def auditors_hash(stored_fields: dict[str, object], previous_hash: str) -> str:
    """The recipe as documented in records/hashing.py, re-implemented from the words alone."""
    document = {**stored_fields, "format": "trialflow.trial-event.v1", "previous_hash": previous_hash}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def golden_event_hash() -> str:
    return event_hash(
        study_id="TF-001",
        sequence=1,
        event_type="PatientEnrolled",
        occurred_at=datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        recorded_at=datetime(2025, 3, 1, 8, 31, 0, 250000, tzinfo=UTC),
        actor_user_id="coordinator.ng",
        actor_role="research_coordinator",
        protocol_version="1.0",
        payload_json=canonical_json({"arm": "CD19/CD22", "weight_kg": 21.4, "note": "µ²"}),
        previous_hash=GENESIS_HASH,
    )


def test_the_hash_recipe_is_frozen() -> None:
    assert golden_event_hash() == GOLDEN_HASH


def test_an_auditor_can_recompute_every_stored_hash_from_the_documented_recipe(store: EventStore) -> None:
    store.append(
        [make_event(1), make_event(2, payload={"dose_mg": 12.5, "unit": "mg/m²", "b": {"z": 1, "a": 2}})]
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
        }
        assert stored.previous_hash == previous
        assert auditors_hash(fields, previous) == stored.hash
        previous = stored.hash


def test_canonical_json_has_one_spelling_per_value() -> None:
    assert (
        canonical_json({"b": 1, "a": {"d": [1.5, None], "c": "µ"}})
        == '{"a":{"c":"\\u00b5","d":[1.5,null]},"b":1}'
    )
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
