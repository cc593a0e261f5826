"""The one table every export reads (exports/event_map.py): every kind of event the record can hold has its entry, so
a helper adding a kind of event is told here to add its line; every entry names a real step and real datasets."""

from __future__ import annotations

from typing import get_args

import pytest

from domain.journey.command_registry import COMMANDS
from domain.journey.events import EventPayload
from exports.event_map import EVENT_EXPORTS, PHASE_EVENTS, export_of
from exports.sdtm_domains import DOMAINS

KINDS = {model.model_fields["type"].default for model in get_args(get_args(EventPayload)[0])}


def test_every_kind_of_event_in_the_record_has_its_export_entry() -> None:
    missing = sorted(KINDS - set(EVENT_EXPORTS))
    assert missing == [], f"add these event kinds to exports/event_map.py's EVENT_EXPORTS: {missing}"
    assert sorted(set(EVENT_EXPORTS) - KINDS) == [], "entries for kinds of event that do not exist"


@pytest.mark.parametrize("kind", sorted(EVENT_EXPORTS))
def test_each_entry_names_a_step_of_the_registry_a_study_event_and_sdtm_datasets(kind: str) -> None:
    export = EVENT_EXPORTS[kind]
    assert export.step in COMMANDS, f"{kind}: {export.step} is not a command of the registry"
    assert callable(export.study_event) or export.study_event in PHASE_EVENTS
    assert set(export.sdtm) <= set(DOMAINS) - {"DM"}  # DM is one row per subject, not per event


def test_a_kind_without_an_entry_is_named_with_the_table_to_add_it_to() -> None:
    with pytest.raises(LookupError, match=r"'dose_escalated'.*exports/event_map\.py"):
        export_of("dose_escalated")


def test_every_sdtm_dataset_but_dm_is_fed_by_some_kind_of_event() -> None:
    fed = {name for export in EVENT_EXPORTS.values() for name in export.sdtm}
    assert fed == set(DOMAINS) - {"DM"}
