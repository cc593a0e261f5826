"""The OpenAPI document names the trial-level operations under their tag, each with a summary, a description that
says what it does and who uses it, its response model and every problem it may answer. No server needed."""

from __future__ import annotations

from typing import Any

import pytest

from api import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from api.routes.trial import TRIAL_TAG
from facade import TrialClient
from tests.api.conftest import authenticator


def no_client() -> TrialClient:
    raise AssertionError("the OpenAPI document is built without calling the trial")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = create_app(no_client, authenticator()).openapi()
    return document


@pytest.mark.parametrize(
    ("method", "path", "model", "problems", "words"),
    [
        ("get", "/trial", "TrialStatus", {"401", "503"}, ["evaluable", "paused", "DSMB", "trial status --trial"]),
        (
            "post",
            "/trial/dsmb-decisions",
            "TrialStatus",
            {"401", "403", "409", "422", "503"},
            ["signed", "resume_under_amendment", "stop", "trial dsmb-decision"],
        ),
        ("get", "/slots", "SlotCalendarView", {"401", "503"}, ["apheresis", "alerted", "trial slots"]),
    ],
)
def test_each_trial_level_operation_is_documented(
    schema: dict[str, Any], method: str, path: str, model: str, problems: set[str], words: list[str]
) -> None:
    operation = schema["paths"][path][method]
    assert operation["tags"] == [TRIAL_TAG]
    assert len(operation["summary"]) > 40
    described = operation["description"]
    missing = [word for word in words if word not in described]
    assert not missing, f"{method.upper()} {path}'s description does not say {missing}"
    answered = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answered == {"$ref": f"#/components/schemas/{model}"}
    listed = {code for code in operation["responses"] if code[:1] in "45"}
    assert listed == problems
    for code in problems:
        problem = operation["responses"][code]
        assert problem["description"] and PROBLEM_MEDIA_TYPE in problem["content"]


def test_the_trial_tag_says_what_supervisors_and_the_dsmb_do_with_it(schema: dict[str, Any]) -> None:
    [tag] = [t for t in schema["tags"] if t["name"] == TRIAL_TAG]
    for operation in ("GET /trial", "POST /trial/dsmb-decisions", "GET /slots", "Supervisors", "DSMB"):
        assert operation in tag["description"]
    tagged = sorted(
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if TRIAL_TAG in operation.get("tags", [])
    )
    assert tagged == ["GET /slots", "GET /trial", "POST /trial/dsmb-decisions"]


def test_the_models_the_trial_answers_with_describe_their_fields(schema: dict[str, Any]) -> None:
    models = schema["components"]["schemas"]
    status = models["TrialStatus"]["properties"]
    for field in ("enrollment", "stopping_rule", "more_dlts_to_pause", "evaluable", "pending"):
        assert field in status
    patient = models["PatientStatus"]["properties"]
    assert "slot_not_booked_because" in patient and "expected_release" in patient
