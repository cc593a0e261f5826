"""Property: whatever appends arrive, in whatever order, retried any number of times, the record ends as one
contiguous, verified chain holding exactly the events offered, and refuses exactly what would leave a hole."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records import EventStore, SequenceGapError
from tests.records.conftest import make_event

_patients = itertools.count(1)  # each example gets patients of its own in the test's store

# One append: (patient index, first sequence, how many events, how many times it is sent).
appends = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),
        st.integers(min_value=1, max_value=12),
        st.integers(min_value=1, max_value=4),
        st.integers(min_value=1, max_value=3),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=appends, total=st.integers(min_value=1, max_value=12))
def test_any_appends_with_retries_leave_a_contiguous_verified_chain(
    store: EventStore, operations: list[tuple[int, int, int, int]], total: int
) -> None:
    studies = [f"PR-{next(_patients):05d}", f"PR-{next(_patients):05d}"]
    recorded_through = dict.fromkeys(studies, 0)  # the model: how far each chain must reach

    for patient, first, count, sends in operations:
        study = studies[patient]
        batch = [make_event(sequence, study) for sequence in range(first, first + count)]
        for _ in range(sends):
            if first > recorded_through[study] + 1:
                with pytest.raises(SequenceGapError) as refused:
                    store.append(batch)
                assert refused.value.sequence == first
            else:
                result = store.append(batch)
                new = max(0, first + count - 1 - recorded_through[study])
                assert len(result.recorded) == new
                assert len(result.already_recorded) == count - new
                recorded_through[study] = max(recorded_through[study], first + count - 1)
            assert store.last_sequence(study) == recorded_through[study]

    for study in studies:  # complete each chain, in one go, from the start: only the rest is new
        store.append([make_event(sequence, study) for sequence in range(1, max(total, recorded_through[study]) + 1)])
        expected = [make_event(sequence, study) for sequence in range(1, max(total, recorded_through[study]) + 1)]
        assert store.events_for(study) == expected
        assert store.verify(study).ok
