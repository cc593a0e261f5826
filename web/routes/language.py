"""Choosing the pages' language: kept in a cookie, so the choice outlives the session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.access import FormSession
from web.cookies import set_language_cookie
from web.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)


def _local_path(path: str) -> str:
    """`path` when it is a path on this site, else the home page (never a redirect to another site)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.post("/language")
async def choose_language(
    request: Request,
    _session: FormSession,
    language: Annotated[str, Form(max_length=16)],
    back_to: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    response = RedirectResponse(_local_path(back_to), status_code=303)
    if language in LANGUAGES:
        set_language_cookie(request, response, language)
    return response
