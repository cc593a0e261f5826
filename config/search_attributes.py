"""The custom search attributes of a patient's journey: defined once, registered on every server from here.

No payload codec encrypts them: they hold the phase, dates, flags and grades only, never a name or a birth date.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

TRIAL_PHASE = SearchAttributeKey.for_keyword("TrialPhase")
NEXT_DUE_DATE = SearchAttributeKey.for_datetime("NextDueDate")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
EXPEDITED_REPORT_OPEN = SearchAttributeKey.for_bool("ExpeditedReportOpen")
HIGHEST_CRS_GRADE = SearchAttributeKey.for_int("HighestCrsGrade")
HIGHEST_ICANS_GRADE = SearchAttributeKey.for_int("HighestIcansGrade")
PROTOCOL_VERSION = SearchAttributeKey.for_keyword("ProtocolVersion")

JOURNEY_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    TRIAL_PHASE,
    NEXT_DUE_DATE,
    OVERDUE,
    EXPEDITED_REPORT_OPEN,
    HIGHEST_CRS_GRADE,
    HIGHEST_ICANS_GRADE,
    PROTOCOL_VERSION,
)

# The type names `temporal server start-dev --search-attribute NAME=TYPE` and `temporal operator` accept.
CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


async def register_search_attributes(client: Client) -> None:
    """Register the journey's search attributes on a server that does not know them (test servers, clusters)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in JOURNEY_SEARCH_ATTRIBUTES
            },
        )
    )


def search_attribute_cli_flags(
    keys: tuple[SearchAttributeKey[Any], ...] = JOURNEY_SEARCH_ATTRIBUTES,
) -> list[str]:
    """`--search-attribute NAME=TYPE` pairs for the Temporal CLI dev server."""
    flags: list[str] = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags
