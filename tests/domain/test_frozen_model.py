"""FrozenModel's instances share their set field names: less held per cached journey, the same behaviour."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from domain.frozen_model import FrozenModel, SharedFieldNames
from domain.journey import JourneyState
from simulation.journey_steps import Milestone
from tests.domain.journey_driver import JourneyDriver


class Dose(FrozenModel):
    drug: str
    mg: float
    note: str | None = None


def test_instances_given_the_same_fields_share_one_set_of_names() -> None:
    first, second = Dose(drug="fludarabine", mg=21.6), Dose(drug="cyclophosphamide", mg=360.0)
    full = Dose(drug="fludarabine", mg=21.6, note="day -4")

    assert first.model_fields_set == {"drug", "mg"}
    assert first.model_fields_set is second.model_fields_set
    assert full.model_fields_set == {"drug", "mg", "note"}
    assert full.model_fields_set is Dose.model_validate_json(full.model_dump_json()).model_fields_set
    assert isinstance(first.model_fields_set, SharedFieldNames)
    assert (first.drug, second.drug) == ("fludarabine", "cyclophosphamide")  # the values stay each instance's own


def test_what_pydantic_does_with_the_names_is_unchanged() -> None:
    dose = Dose(drug="fludarabine", mg=21.6)
    other = Dose(drug="fludarabine", mg=30.0)

    assert dose.model_dump(exclude_unset=True) == {"drug": "fludarabine", "mg": 21.6}
    assert dose.model_dump_json(exclude_unset=True) == '{"drug":"fludarabine","mg":21.6}'
    corrected = dose.model_copy(update={"note": "re-weighed"})
    assert corrected.model_fields_set == {"drug", "mg", "note"}
    assert dose.model_fields_set == other.model_fields_set == {"drug", "mg"}  # the copy added to its own names
    assert pickle.loads(pickle.dumps(dose)) == dose
    assert copy.deepcopy(dose) == dose
    with pytest.raises(ValidationError, match="frozen"):
        dose.note = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        lambda names: names.add("note"),
        lambda names: names.update({"note"}),
        lambda names: names.discard("mg"),
        lambda names: names.clear(),
        lambda names: names.__ior__({"note"}),
    ],
    ids=["add", "update", "discard", "clear", "in-place union"],
)
def test_a_change_in_place_is_refused_and_alters_no_instance(change: object) -> None:
    dose, other = Dose(drug="fludarabine", mg=21.6), Dose(drug="cyclophosphamide", mg=360.0)

    with pytest.raises(TypeError, match="shared by other model instances"):
        change(dose.model_fields_set)  # type: ignore[operator]
    assert other.model_fields_set == {"drug", "mg"}


def _models(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for field in value.__dict__.values():
            yield from _models(field)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _models(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _models(item)


def test_a_journey_decoded_holds_one_set_of_names_per_kind_of_model_not_per_instance() -> None:
    journey = JourneyDriver()
    journey.walk_to(Milestone.INFUSED)

    decoded = JourneyState.model_validate_json(journey.state.model_dump_json())
    models = list(_models(decoded))
    names_held = {id(model.model_fields_set) for model in models}
    kinds = {type(model) for model in models}

    assert decoded == journey.state
    assert len(models) > 3 * len(kinds)  # many instances of few kinds: what sharing saves
    assert len(names_held) <= len(kinds)


def test_a_model_class_made_again_in_every_run_is_not_kept() -> None:
    # The sandbox executes a workflow module afresh for every run: its own models are new classes each time.
    def a_run() -> weakref.ref[type[FrozenModel]]:
        class Report(FrozenModel):
            study_id: str

        Report(study_id="TF-001")
        return weakref.ref(Report)

    made = a_run()
    gc.collect()
    assert made() is None
