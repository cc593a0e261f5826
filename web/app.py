"""The web app added to the API's FastAPI app: its routes beside the API's (whose paths stay as they are), its
assets, its sessions, and the answers to a missing sign-in or a refused form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from facade import TrialClient
from security.auth import AuthenticationUnavailable
from web.access import FormRefused, SignInRequired
from web.config import WebConfig
from web.oidc_sign_in import OidcSignIn
from web.rendering import page
from web.routes import dashboard, dsmb, enrollment, language, pages, sign_in, signing_pin, steps
from web.sessions import SessionStore
from web.swagger import add_swagger_ui

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"


def add_web(app: FastAPI, config: WebConfig, trial_dependency: Callable[[Request], Awaitable[TrialClient]]) -> None:
    """The pages and /docs on `app` (made with docs_url=None, redoc_url=None); `trial_dependency` gives a request its
    trial client as the API's routes get theirs, and `app.state.authenticator` checks every credential."""
    app.state.web_config = config
    app.state.web_sessions = SessionStore(idle_timeout=config.idle_timeout, clock=config.clock)
    app.state.web_oidc = OidcSignIn(config.oidc) if config.oidc is not None else None
    app.state.web_trial_dependency = trial_dependency
    add_swagger_ui(app)  # its assets' mount comes before /static's
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (
        sign_in.router,
        language.router,
        pages.router,
        dashboard.router,
        dsmb.router,
        steps.router,
        enrollment.router,
        signing_pin.router,
    ):
        app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(FormRefused, _form_refused)
    app.add_exception_handler(AuthenticationUnavailable, _sign_in_unavailable)


def _wants_page(request: Request) -> bool:
    return "HX-Request" not in request.headers


async def _sign_in_required(request: Request, required: SignInRequired) -> Response:
    target = "/sign-in?idle=1" if required.idle else "/sign-in"
    if not _wants_page(request):  # htmx swaps nothing in: it loads the sign-in page instead
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _form_refused(request: Request, _refused: Any) -> HTMLResponse:
    return page(request, "form_refused.html", None, status_code=403)


async def _sign_in_unavailable(request: Request, _unavailable: Any) -> HTMLResponse:
    return page(request, "unavailable.html", None, status_code=503)
