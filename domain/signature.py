"""An electronic signature (21 CFR Part 11): who signed, the printed name, when (with its UTC offset), what it
means, and the SHA-256 of what was signed, so the signature is bound to that entry and no other.

What was signed is the command itself, as canonical JSON without its signature: every field the person entered,
the actor and the kind (domain/entered_content.py). Pure: the API builds a signature after re-authenticating the
signer; the decider checks it.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from domain.canonical_json import canonical_json
from domain.entered_content import entered_content
from domain.free_text import LABEL
from domain.protocol import FrozenModel
from domain.record_limits import ActorUserId

PRINTED_NAME_MAX_LENGTH = 100
SIGNED_FIELD = "signature"  # the command's field that carries it, left out of what is signed


class SignatureMeaning(StrEnum):
    """What the signer declares by signing (Part 11 §11.50(a)(3))."""

    AUTHOR = "author"  # I did or witnessed this, and entered it
    REVIEW = "review"  # I checked this entry
    APPROVAL = "approval"  # I approve what this entry records


PrintedName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=PRINTED_NAME_MAX_LENGTH),
    LABEL,
]


class Signature(FrozenModel):
    """One signature on one entry; kept in each event the entry records, inside the record's hash chain."""

    signer_user_id: ActorUserId
    printed_name: PrintedName
    signed_at: AwareDatetime  # the site's clock, with its UTC offset, as the signer saw it
    meaning: SignatureMeaning
    signed_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the command signed, without it")


C = TypeVar("C", bound=BaseModel)


def signed_content_sha256(command: BaseModel) -> str:
    """The SHA-256 (hex) of `command` as canonical JSON, its signature left out: what a signature binds."""
    document = entered_content(command, exclude=frozenset({SIGNED_FIELD}))
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def sign(
    command: C, *, signer_user_id: str, printed_name: str, signed_at: AwareDatetime, meaning: SignatureMeaning
) -> C:
    """`command` carrying a signature over its own content (the signer re-authenticated before this is called)."""
    signature = Signature(
        signer_user_id=signer_user_id,
        printed_name=printed_name,
        signed_at=signed_at,
        meaning=meaning,
        signed_sha256=signed_content_sha256(command),
    )
    return command.model_copy(update={SIGNED_FIELD: signature})
