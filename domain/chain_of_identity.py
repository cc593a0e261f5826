"""Chain-of-identity (COI) labels, e.g. COI-TF001-C01-<check>: assigned at apheresis, checked at the bedside.

As in ISBT 128, an ISO 7064 MOD 37-2 check character catches any single mistyped character or adjacent swap.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator
from stdnum.iso7064 import mod_37_2

from domain.identifiers import StudyId, study_id_problem
from domain.protocol import FrozenModel

LABEL_PREFIX = "COI"
MAX_COLLECTION_NUMBER = 99  # two digits on the label

_CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"  # ISO 7064 MOD 37-2; '*' only as check character
_DASH_IN_CHECK_DATA = "*"
_LABEL = re.compile(
    rf"{LABEL_PREFIX}-(?P<study>[A-Z0-9]+(?:-[A-Z0-9]+)?)-C(?P<collection>[0-9]{{2}})-(?P<check>[0-9A-Z*])"
)
_COMPACT_STUDY = re.compile(r"(?P<prefix>[A-Z0-9]*[A-Z])(?P<number>[0-9]+)")
_LABEL_CHARACTERS = frozenset(_CHECK_ALPHABET + "-")
_RESCAN = "re-scan the bag label; if it is refused again, do not use the bag and call the cell therapy lab"


class ChainOfIdentityError(ValueError):
    """A label or identity that cannot be used, with what is wrong and what to do."""


def _printed_study_id(study_id: str) -> str:
    """The study id as the label prints it: TF-001 as TF001, without its dash unless that would be ambiguous."""
    # A prefix ending in a digit keeps the dash: TF2-001 and TF-2001 would otherwise share one label.
    prefix, number = study_id.split("-")
    return study_id if prefix[-1].isdigit() else prefix + number


def _check_data(study_id: str, collection_number: int) -> str:
    # A printed dash takes a position in the check data (as '*'), so mistyping or moving it is still a single
    # substitution or adjacent swap that the check character catches.
    printed = _printed_study_id(study_id).replace("-", _DASH_IN_CHECK_DATA)
    return f"{printed}C{collection_number:02d}"


def _check_character(study_id: str, collection_number: int) -> str:
    return mod_37_2.calc_check_digit(_check_data(study_id, collection_number), alphabet=_CHECK_ALPHABET)


class ChainOfIdentity(FrozenModel):
    """The identity of one collection of a patient's cells, carried on every bag made from it."""

    study_id: StudyId
    collection_number: int = Field(ge=1, le=MAX_COLLECTION_NUMBER)
    check_character: str = Field(min_length=1, max_length=1)

    @model_validator(mode="after")
    def _check_character_matches(self) -> ChainOfIdentity:
        expected = _check_character(self.study_id, self.collection_number)
        if self.check_character != expected:
            raise ValueError(
                f"the check character of {self.study_id} collection {self.collection_number} is "
                f"{expected!r}, not {self.check_character!r}"
            )
        return self

    def __str__(self) -> str:
        printed = _printed_study_id(self.study_id)
        return f"{LABEL_PREFIX}-{printed}-C{self.collection_number:02d}-{self.check_character}"

    def describe(self) -> str:
        """The identity in words, for messages: "TF-001 collection 2"."""
        return f"{self.study_id} collection {self.collection_number}"


def issue_chain_of_identity(study_id: str, collection_number: int) -> ChainOfIdentity:
    """The COI of a patient's collection (1 for the first apheresis, 2 for a re-collection ...)."""
    problem = study_id_problem(study_id)
    if problem is not None:
        raise ChainOfIdentityError(f"no chain-of-identity label can be made: {problem}")
    if not 1 <= collection_number <= MAX_COLLECTION_NUMBER:
        raise ChainOfIdentityError(
            f"collection number {collection_number} cannot be printed on a label: "
            f"collections are numbered 1 to {MAX_COLLECTION_NUMBER}"
        )
    return ChainOfIdentity(
        study_id=study_id,
        collection_number=collection_number,
        check_character=_check_character(study_id, collection_number),
    )


_EXAMPLE = str(issue_chain_of_identity("TF-001", 1))


def _unreadable(problem: str) -> ChainOfIdentityError:
    return ChainOfIdentityError(f"{problem}; {_RESCAN}")


def parse_chain_of_identity(text: str) -> ChainOfIdentity:
    """The COI a scanned or typed label stands for. Case and surrounding spaces are forgiven, nothing else."""
    stripped = text.strip()
    if not stripped:
        raise _unreadable("no chain-of-identity label was read (the text is empty)")
    # Checked before upper-casing, which would turn some non-label letters into label ones ('ı' -> 'I').
    strange = sorted({c for c in stripped if not c.isascii() or c.upper() not in _LABEL_CHARACTERS})
    if strange:
        shown = ", ".join(repr(c) for c in strange)
        raise _unreadable(f"the label {stripped!r} contains {shown}, never part of a chain-of-identity label")
    label = stripped.upper()
    match = _LABEL.fullmatch(label)
    if match is None:
        raise _unreadable(f"{stripped!r} is not a chain-of-identity label (they look like {_EXAMPLE})")
    study_id = _study_id_from_label(match["study"])
    collection_number = int(match["collection"])
    if collection_number == 0:
        raise _unreadable("the label shows collection 00, which does not exist (collections start at 01)")
    if match["check"] != _check_character(study_id, collection_number):
        raise _unreadable(
            f"the check character of {label!r} does not match the rest of the label, so a character was "
            "misread or mistyped"
        )
    return ChainOfIdentity(study_id=study_id, collection_number=collection_number, check_character=match["check"])


def _study_id_from_label(printed: str) -> str:
    if "-" in printed:
        study_id = printed
    else:
        compact = _COMPACT_STUDY.fullmatch(printed)
        if compact is None:
            raise _unreadable(f"the label's study part {printed!r} is not a study id")
        study_id = f"{compact['prefix']}-{compact['number']}"
    problem = study_id_problem(study_id)
    if problem is not None:
        raise _unreadable(f"the label's study part {printed!r} is not a study id of this trial")
    if _printed_study_id(study_id) != printed:
        raise _unreadable(
            f"the label shows the study id as {printed!r}, but labels print {study_id} as "
            f"{_printed_study_id(study_id)!r}"
        )
    return study_id


def chain_of_identity_mismatch(scanned: str, expected: ChainOfIdentity) -> str | None:
    """None when `scanned` is a valid label of exactly `expected`; otherwise why the bag must not be used."""
    try:
        found = parse_chain_of_identity(scanned)
    except ChainOfIdentityError as error:
        return f"the scanned label is not valid: {error}"
    if found == expected:
        return None
    return f"the bag belongs to {found.describe()}, not to this patient's {expected.describe()}"
