"""The request bodies of `POST /patients/{study_id}/commands`, one per staff step of the command registry: the
command's own fields and checks, without `actor` (the API sets it from the credential), and for a signed step the
signer's `signature`: their signing PIN and the signature's meaning (the API signs; the PIN goes no further)."""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import BaseModel, Field, SecretStr, create_model
from pydantic.fields import FieldInfo

from domain.journey.command_registry import STAFF_COMMANDS, CommandEntry, Signed
from domain.journey.commands import EnrollPatient
from domain.protocol import FrozenModel
from domain.roles import Actor
from domain.signature import SIGNED_FIELD, SignatureMeaning

# Set by the API, never by the body: who acts (the credential) and the signature (built once the PIN is checked).
_NOT_IN_BODY = frozenset({"actor", SIGNED_FIELD})


class SignatureRequest(FrozenModel):
    """Sign this step: your signing PIN (set with PUT /me/signing-pin) and what your signature means."""

    pin: SecretStr = Field(description="Your signing PIN: checked at this moment, never stored or logged")
    meaning: SignatureMeaning = Field(
        default=SignatureMeaning.AUTHOR,
        description="author (you did or witnessed this step and enter it: the default, as each step is recorded by "
        "the person who did it), review (you checked the entry) or approval (you approve what it records)",
    )


# Each staff step but enrollment (its own endpoint), by its kind.
STEPS: Final[dict[str, CommandEntry]] = {
    kind: entry for kind, entry in STAFF_COMMANDS.items() if entry.model is not EnrollPatient
}


def _description(entry: CommandEntry) -> str:
    """The step's help, who may record it, whether it is signed, and its nested fields' units."""
    roles = ", ".join(sorted(role.value for role in entry.roles))
    signed = {Signed.ALWAYS: "always", Signed.NEVER: "never", Signed.WHEN: f"when {entry.signed_when}"}[entry.signed]
    nested = [f"{path} in {unit}" for path, unit in entry.units.items() if "." in path]
    units = f" Units: {'; '.join(nested)}." if nested else ""
    return f"{entry.help} Recorded by: {roles}. Electronically signed: {signed}.{units}"


def _request_model(entry: CommandEntry) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in entry.model.model_fields.items():
        if name in _NOT_IN_BODY:
            continue
        unit = entry.units.get(name)
        fields[name] = (
            info.annotation,
            FieldInfo.merge_field_infos(info, description=f"Unit: {unit}") if unit else info,
        )
    if entry.signed is not Signed.NEVER:
        fields[SIGNED_FIELD] = (SignatureRequest | None, Field(default=None, description="Sign this step"))
    model: type[BaseModel] = create_model(
        f"{entry.model.__name__}Request", __base__=FrozenModel, __doc__=_description(entry), **fields
    )
    return model


REQUEST_MODELS: Final[dict[str, type[BaseModel]]] = {kind: _request_model(entry) for kind, entry in STEPS.items()}
if TYPE_CHECKING:
    CommandRequest = BaseModel
else:
    CommandRequest = Annotated[functools.reduce(operator.or_, REQUEST_MODELS.values()), Field(discriminator="kind")]


def staff_command(request: BaseModel, actor: Actor) -> BaseModel:
    """The command the facade takes: the request's values and the authenticated actor, validated once more."""
    command_model = STEPS[str(getattr(request, "kind"))].model  # noqa: B009
    values = {name: getattr(request, name) for name in type(request).model_fields if name != SIGNED_FIELD}
    return command_model.model_validate({**values, "actor": actor})


def signature_request(request: BaseModel) -> SignatureRequest | None:
    """The signature the body asks for, if any."""
    signature = getattr(request, SIGNED_FIELD, None)
    return signature if isinstance(signature, SignatureRequest) else None
