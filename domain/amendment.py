"""Amending the protocol: a new version built from changed parameters, refused if its visit calendar is unsafe.

Apart from `protocol.py` because the calendar check lives with the schedule rules, which build on the protocol.
"""

from __future__ import annotations

from typing import Any

from domain.protocol import TrialProtocol
from domain.schedule import calendar_problems


def amend(base: TrialProtocol, version: str, **sections: dict[str, Any]) -> TrialProtocol:
    """A new protocol version: `amend(PROTOCOL_V1, "1.1", infusion={"max_days_after_lymphodepletion": 10})`.

    Every changed value is validated as if the protocol were written anew.
    """
    data = base.model_dump()
    data["version"] = version
    for section, changes in sections.items():
        if section not in data or not isinstance(data[section], dict):
            raise ValueError(f"unknown protocol section {section!r}")
        data[section] = {**data[section], **changes}
    amended = TrialProtocol.model_validate(data)
    problems = calendar_problems(amended.schedule)
    if problems:
        raise ValueError("the amended visit schedule is unsafe: " + "; ".join(problems))
    return amended
