"""The HTTP API: the trial client's operations over FastAPI. The acting user comes from the bearer token only.

Every operation calls the one facade (`TrialClient`), so the API does and refuses what the CLI does; `create_app`
assembles the routers of api/routes/, with the client and the authenticator in app.state, and adds the web app's
pages (web/), which use both."""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.body_limit import BodyLimit
from api.dependencies import TrialSource, trial_client
from api.problems import EXCEPTION_HANDLERS, PROBLEM_MEDIA_TYPE
from api.routes import audit, dsmb, exports, identity, operators, service, signing, staff, supervisors
from api.routes import trial as trial_routes
from config.settings import DEFAULT_API_MAX_BODY_BYTES
from security.auth import Authenticator
from web import WebConfig, add_web

API_TITLE: Final = "trialflow API"
API_VERSION: Final = "1.0.0"


def create_app(
    trial: TrialSource,
    auth: Authenticator,
    *,
    max_body_bytes: int = DEFAULT_API_MAX_BODY_BYTES,
    web: WebConfig | None = None,
) -> FastAPI:
    """The API over `trial` (a TrialClient, or a function giving one per request), with `auth`'s tokens; a request
    body over `max_body_bytes` is refused (413) before it is read or its credential checked. The web app's pages
    (web/) are served beside the API's routes, configured by `web` (default: personal-credential sign-in)."""
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        summary="Enroll, record and read the journeys of a pediatric CD19/CD22 CAR-T trial.",
        description=(
            "Every request but `/healthz` and `/auth/config` carries `Authorization: Bearer <token>`; the acting "
            "user and role come from the token alone, never from a request body. Errors are RFC 9457 problem details "
            "(`application/problem+json`) whose `reasons` list every problem found."
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # Swagger UI is served by the web app with its assets from this process (no CDN); ReDoc is not offered.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.trial_source = trial
    app.state.authenticator = auth
    for router in (
        service.router,
        identity.router,
        operators.router,
        staff.router,
        signing.router,
        supervisors.router,
        trial_routes.router,
        dsmb.router,
        audit.router,
        exports.router,
    ):
        app.include_router(router)
    add_web(app, web or WebConfig(), trial_client)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=[{"name": trial_routes.TRIAL_TAG, "description": trial_routes.TRIAL_TAG_DESCRIPTION}],
            )
            # Problems are sent as application/problem+json; FastAPI documents every model as application/json.
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for code, answer in operation.get("responses", {}).items():
                        content = answer.get("content", {})
                        if code[:1] in "45" and "application/json" in content:
                            answer["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
