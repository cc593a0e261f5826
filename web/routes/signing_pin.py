"""Setting or changing one's own signing PIN in the browser (as `PUT /me/signing-pin` does): the PIN a signed step's
dialog asks for. The current PIN is needed to change it; every problem is shown; the PINs go no further than the
signing desk (never a log, never a page)."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr

from facade.signing import PinChangeRefused
from security.signing_pins import PIN_MAX_LENGTH, PIN_MIN_LENGTH
from web.access import FormSession, SignedIn, actor_of
from web.rendering import page
from web.routes.pages import Trial
from web.sessions import WebSession

router = APIRouter(include_in_schema=False)

PATH: Final = "/signing-pin"


def _pin_page(
    request: Request, session: WebSession, *, reasons: tuple[str, ...] = (), done: bool = False, status_code: int = 200
) -> HTMLResponse:
    shown = {"reasons": reasons, "done": done, "min_length": PIN_MIN_LENGTH, "max_length": PIN_MAX_LENGTH}
    return page(request, "signing_pin.html", session, shown, status_code=status_code)


@router.get(PATH, response_class=HTMLResponse)
async def signing_pin_form(request: Request, session: SignedIn) -> HTMLResponse:
    return _pin_page(request, session)


@router.post(PATH, response_class=HTMLResponse)
async def set_signing_pin(request: Request, _form: FormSession, session: SignedIn, trial: Trial) -> HTMLResponse:
    form = await request.form()
    current, new, again = (str(form.get(name, "")) for name in ("current_pin", "new_pin", "new_pin_again"))
    if new != again:
        return _pin_page(
            request, session, reasons=("the two new PINs differ: type the same one twice",), status_code=422
        )
    try:
        await trial.signing.set_pin(actor_of(session).user_id, SecretStr(new), SecretStr(current) if current else None)
    except PinChangeRefused as refused:
        return _pin_page(request, session, reasons=refused.reasons, status_code=403 if refused.unauthenticated else 422)
    return _pin_page(request, session, done=True)
