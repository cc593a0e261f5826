"""Pages from the Jinja2 templates of web/templates/, in the request's language, with what every page shows: the
signed-in user, the form token, the language switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web.config import WebConfig
from web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, SiteFormat, chosen_language, html_lang, translations
from web.sessions import WebSession
from web.words import MEANING_WORDS, PHASE_WORDS, ROLE_WORDS

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_environment)


def request_language(request: Request) -> str:
    return chosen_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


def gettext_for(request: Request) -> Any:
    return translations(request_language(request)).gettext


def page(
    request: Request,
    template: str,
    session: WebSession | None,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """`template` rendered for this request; the session gives the user and the form token."""
    language = request_language(request)
    catalog = translations(language)

    def translated(message: str, **variables: object) -> str:
        text = catalog.gettext(message)
        return text % variables if variables else text

    shown: dict[str, Any] = {
        "_": translated,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "language": language,
        "lang": html_lang(language),
        "languages": LANGUAGE_NAMES,
        "fmt": SiteFormat(language),
        "role_words": ROLE_WORDS,
        "phase_words": PHASE_WORDS,
        "meaning_words": MEANING_WORDS,
        "session": session,
        "user": session.user if session is not None else None,
        "csrf_token": session.csrf_token if session is not None else "",
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, shown, status_code=status_code)
    response.headers.update(_page_headers(request))
    return response


def _page_headers(request: Request) -> dict[str, str]:
    """Everything from this origin only (the forms may also go on to the identity provider), never in a frame."""
    config: WebConfig = request.app.state.web_config
    form_targets = "'self'" + (f" {_origin(config.oidc.issuer)}" if config.oidc is not None else "")
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; form-action {form_targets}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'"
        ),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
