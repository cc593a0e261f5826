"""Pydantic's validation errors in words a nurse understands, for every interface (the CLI and the HTTP API)."""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import ErrorDetails


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_DATE_ERRORS = {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_future"}
_NUMBER_ERRORS = {"float_type", "float_parsing", "decimal_parsing", "decimal_type"}
_WHOLE_NUMBER_ERRORS = {"int_type", "int_parsing", "int_from_float", "int_parsing_size"}


def plain_validation_message(detail: ErrorDetails) -> str:
    """A pydantic error in words a nurse understands: "must be greater than 0", not "Input should be ..."."""
    kind, context = detail["type"], detail.get("ctx", {})
    bounds = {
        "greater_than": ("must be greater than", "gt"),
        "greater_than_equal": ("must be at least", "ge"),
        "less_than": ("must be less than", "lt"),
        "less_than_equal": ("must be at most", "le"),
        "multiple_of": ("must be a multiple of", "multiple_of"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{words} {_shown(context[key])}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("enum", "literal_error"):
        return "must be one of: " + ", ".join(re.findall(r"'([^']*)'", str(context.get("expected", ""))))
    if kind in _NUMBER_ERRORS:
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in _WHOLE_NUMBER_ERRORS:
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in _DATE_ERRORS:
        why = str(context.get("error", ""))
        # "month value is outside expected range of 1-12" helps; "input is too short" does not.
        return "must be a real date written YYYY-MM-DD" + (f" ({why})" if "range" in why else "")
    if kind == "string_too_short":
        return (
            "must not be empty"
            if context.get("min_length") == 1
            else f"must have at least {context['min_length']} characters"
        )
    if kind == "string_too_long":
        return f"must have at most {context['max_length']} characters"
    if kind == "string_type":
        return "must be text"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object of named fields"
    message = detail["msg"].replace("Input should be", "must be")
    return message[:1].lower() + message[1:]
