"""`PUT /me/signing-pin`: each person sets (or changes) the PIN that re-authenticates them when they sign."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field, SecretStr

from api.dependencies import Reader, TrialDep
from api.problems import Problem, problem_responses
from domain.protocol import FrozenModel
from facade.signing import PinChangeRefused
from security.signing_pins import PIN_MAX_LENGTH, PIN_MIN_LENGTH

router = APIRouter(tags=["signing"])


class SigningPinChange(FrozenModel):
    """Your new signing PIN, and your current one when you have one."""

    new_pin: SecretStr = Field(
        description=f"At least {PIN_MIN_LENGTH} digits or characters (at most {PIN_MAX_LENGTH}), not one character "
        "repeated"
    )
    current_pin: SecretStr | None = Field(default=None, description="Your current signing PIN, to change it")


@router.put(
    "/me/signing-pin",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 422, 503),
    summary="Set or change your signing PIN (the credential's user); the current one is needed to change it",
    description=(
        "A signed step (POST /patients/{study_id}/commands with `signature`) asks for this PIN. Wrong current PINs "
        "count toward the signing lockout; an administrator resets a forgotten PIN. Every problem is listed."
    ),
)
async def set_signing_pin(change: SigningPinChange, who: Reader, client: TrialDep) -> Response:
    try:
        await client.signing.set_pin(who.user_id, change.new_pin, change.current_pin)
    except PinChangeRefused as refused:
        count = len(refused.reasons)
        if refused.unauthenticated:
            raise Problem(
                403,
                "signing_pin_refused",
                "Signing PIN not changed",
                "the current signing PIN was not confirmed",
                refused.reasons,
            ) from None
        raise Problem(
            422,
            "invalid_input",
            "Invalid input",
            f"{count} problem{'' if count == 1 else 's'} with the new signing PIN; nothing was changed",
            refused.reasons,
        ) from None
    return Response(status_code=204)
