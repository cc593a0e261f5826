"""Study identifiers: the only patient handle allowed in workflow ids, search attributes, logs and messages."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

# e.g. "TF-001": a site/trial prefix and a number. Never derived from a name, birth date or record number.
STUDY_ID_PATTERN = r"^[A-Z][A-Z0-9]{1,7}-[0-9]{3,5}$"
_STUDY_ID = re.compile(STUDY_ID_PATTERN)

StudyId = Annotated[str, StringConstraints(pattern=STUDY_ID_PATTERN)]


def study_id_problem(text: str) -> str | None:
    """Why `text` is not a study id, or None when it is one."""
    if _STUDY_ID.fullmatch(text):
        return None
    return (
        f"study id {text!r} is not in the trial's format: capital letters or digits, a dash and "
        "3 to 5 digits, for example TF-001"
    )
