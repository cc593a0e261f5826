"""Errors as RFC 9457 problem details (`application/problem+json`), each listing every reason in `reasons`.

A request's input is never echoed back: it may carry a child's birth date or other PHI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from domain.identifiers import study_id_problem
from domain.journey.command_registry import STAFF_COMMANDS
from domain.protocol import FrozenModel
from facade import (
    AlreadyEnrolled,
    CommandRefused,
    EnrollmentNotTaken,
    JourneyClosed,
    NotPermitted,
    TrialError,
    UnknownPatient,
)
from facade.plain_words import plain_validation_message
from facade.signing import SignatureRefused, SigningLocked
from observability.logging import get_logger

log = get_logger("api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:trialflow,2026:problem/"  # RFC 9457 §3.1.1: a tag URI where no page documents the type

# Where a problem in the request was found, as a caller would name it.
_LOCATION_WORDS = {"body": "", "path": "path parameter ", "query": "query parameter ", "header": "header "}


class ProblemDetails(FrozenModel):
    """RFC 9457 problem details; `reasons` lists every problem found, one plain sentence each."""

    type: str = Field(description="A URI naming the kind of problem, e.g. tag:trialflow,2026:problem/command-refused")
    title: str = Field(description="The kind of problem, in a few words")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="This occurrence, in one sentence")
    instance: str = Field(description="The request path the problem occurred at")
    reasons: tuple[str, ...] = Field(description="Every reason, one plain sentence each")


class Problem(Exception):
    """Raised by the API itself (authentication, authorisation, input) to answer with problem details."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        reasons: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.reasons = tuple(reasons) or (detail,)
        self.headers = headers


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = ProblemDetails(
        type=TYPE_PREFIX + problem.code.replace("_", "-"),
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        instance=request.url.path,
        reasons=problem.reasons,
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )


# ---------------------------------------------------------------- validation


def _field_name(location: Sequence[int | str]) -> str:
    parts = [str(part) for part in location]
    where = ""
    if parts and parts[0] in _LOCATION_WORDS:
        where = _LOCATION_WORDS[parts[0]]
        parts = parts[1:]
    # A discriminated union puts the command's kind into the location: the caller wrote it as `kind`.
    if where == "" and parts and parts[0] in STAFF_COMMANDS:
        parts = parts[1:]
    return where + ".".join(parts)


def validation_reasons(errors: Sequence[ErrorDetails] | Sequence[Any]) -> list[str]:
    """Every validation problem as "field: what is wrong", never quoting the input."""
    reasons: list[str] = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        field = _field_name(location)
        kind = error.get("type", "")
        if location and location[-1] == "actor" and kind == "extra_forbidden":
            reasons.append("actor: the acting user comes from the credential, never from the request body")
            continue
        if location and location[-1] == "study_id" and kind == "string_pattern_mismatch":
            # A study id is the one patient handle that may be quoted back: it identifies no one.
            reasons.append(f"{field}: {study_id_problem(str(error.get('input', '')))}")
            continue
        if kind == "json_invalid":
            reasons.append("the request body is not valid JSON")
            continue
        if kind == "union_tag_invalid":
            expected = str(error.get("ctx", {}).get("expected_tags", ""))
            reasons.append(f"{field or 'kind'}: must be one of: {expected.replace(chr(39), '')}")
            continue
        if kind == "union_tag_not_found":
            reasons.append(f"{field + '.' if field else ''}kind: is required (which command this is)")
            continue
        if kind == "value_error":
            # A model's consistency check joins its problems with "; ": one reason each.
            message = str(error.get("ctx", {}).get("error", error.get("msg", "")))
            reasons.extend(f"{field}: {part}" if field else part for part in message.split("; "))
            continue
        message = plain_validation_message(error)
        reasons.append(f"{field}: {message}" if field else message)
    return reasons or ["the request is not valid"]


def invalid_input(reasons: Sequence[str]) -> Problem:
    count = len(reasons)
    return Problem(
        422,
        "invalid_input",
        "Invalid input",
        f"{count} problem{'' if count == 1 else 's'} with the request; nothing was recorded",
        reasons,
    )


# ---------------------------------------------------------------- handlers

# The first match wins: NotPermitted is a CommandRefused, answered 403 (the role may never do it), not 409.
_TRIAL_ERRORS: dict[type[TrialError], tuple[int, str]] = {
    NotPermitted: (403, "Not allowed for this role"),
    # The bearer token stands; the signer's re-authentication at the moment of signing did not.
    SigningLocked: (403, "Signing locked"),
    SignatureRefused: (403, "Signature refused"),
    CommandRefused: (409, "Refused by the protocol"),
    AlreadyEnrolled: (409, "Already enrolled"),
    JourneyClosed: (409, "Journey closed"),
    UnknownPatient: (404, "Unknown patient"),
    # No journey worker recorded the enrollment in time: it was stopped, and enrolling again may succeed.
    EnrollmentNotTaken: (503, "Enrollment not taken"),
}


async def _on_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return problem_response(request, error)


async def _on_request_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return problem_response(request, invalid_input(validation_reasons(error.errors())))


async def _on_model_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ValidationError)
    return problem_response(request, invalid_input(validation_reasons(error.errors(include_url=False))))


async def _on_trial_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TrialError)
    status, title = next((found for kind, found in _TRIAL_ERRORS.items() if isinstance(error, kind)), (409, "Refused"))
    return problem_response(request, Problem(status, error.code, title, error.message, error.reasons))


_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED})


async def _on_temporal_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RPCError)
    log.warning("temporal_error", status=error.status.name if error.status else None, path=request.url.path)
    if error.status not in _UNAVAILABLE:
        return problem_response(
            request, Problem(500, "temporal_error", "Temporal error", "Temporal refused the request unexpectedly")
        )
    return problem_response(
        request,
        Problem(
            503,
            "temporal_unavailable",
            "Temporal unavailable",
            "Temporal could not answer just now; nothing was recorded unless a retry shows it was",
        ),
    )


async def _on_record_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SQLAlchemyError)
    log.warning("record_error", error_type=type(error).__name__, path=request.url.path)  # its text may quote PHI
    if isinstance(error, OperationalError | InterfaceError):
        return problem_response(
            request,
            Problem(
                503,
                "record_unavailable",
                "Trial record unavailable",
                "The trial record could not be reached just now; nothing was recorded unless a retry shows it was",
            ),
        )
    return problem_response(
        request, Problem(500, "record_error", "Trial record error", "The trial record refused the request unexpectedly")
    )


async def _on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """Anything else: still problem details, never the error's own text (it may quote a request's PHI)."""
    log.error("unexpected_error", error_type=type(error).__name__, path=request.url.path)
    return problem_response(
        request, Problem(500, "internal_error", "Internal error", "The request failed unexpectedly; it has been logged")
    )


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "HTTP error")
    detail = str(error.detail) if error.detail else title
    return problem_response(
        request, Problem(error.status_code, f"http_{error.status_code}", title, detail, headers=error.headers)
    )


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    RequestValidationError: _on_request_validation,
    ValidationError: _on_model_validation,
    TrialError: _on_trial_error,
    StarletteHTTPException: _on_http_error,
    RPCError: _on_temporal_error,
    SQLAlchemyError: _on_record_error,
    Exception: _on_unexpected_error,
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of these problem statuses (their media type is set by the app)."""
    described = {
        401: "No credential, or one that is not recognised",
        403: "The credential's role may not do this, or the electronic signature was refused (every reason listed)",
        406: "None of the accepted media types can be produced",
        413: "The request body is larger than the API accepts (TRIALFLOW_API_MAX_BODY_BYTES); nothing was recorded",
        404: "No such patient",
        409: (
            "Refused: the protocol's every reason, the study id already enrolled, the journey ended, or a request "
            "with the same Idempotency-Key still being processed"
        ),
        422: "The request is invalid (every problem listed), or its Idempotency-Key was used for a different request",
        503: "Temporal, the trial record or the identity provider cannot be reached",
    }
    return {status: {"model": ProblemDetails, "description": described[status]} for status in statuses}
