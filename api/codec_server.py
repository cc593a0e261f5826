"""The codec server (`python -m api.codec_server`): Temporal's remote codec protocol (`POST /encode`, `POST /decode`)
over the payload keys, so authorised staff read encrypted histories in the Temporal Web UI and CLI.

Callers present the HTTP API's bearer tokens; only roles that may read a whole record decode (docs/deployment.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Final
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.api.common.v1 import Payload, Payloads

from api.dependencies import authenticated_actor
from api.problems import EXCEPTION_HANDLERS, Problem
from config.settings import CommaSeparated
from domain.roles import Actor, Role
from observability.logging import configure_logging, get_logger
from security.auth import Authenticator, TokenConfigurationError
from security.codec import KEY_ID_METADATA_KEY, EncryptionCodec, PayloadDecryptionError, is_encrypted, is_refused
from security.compression import CompressionCodec, PayloadDecompressionError, decompress
from security.keys import KEYS_ENV, KEYS_FILE_ENV, KeyringConfigurationError, PayloadKeyring

# Those who may read a child's whole record: the care team who treat and document the child, and the
# supervisors who oversee the trial. The service units (apheresis, cell lab, hospital lab, pharmacy) work
# from the study id and their own step; a decoded history holds far more (the birth date among it).
PHI_READER_ROLES: Final = frozenset(
    {Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR, Role.PHYSICIAN, Role.NURSE, Role.SUPERVISOR}
)

# The embedded dev server's Web UI (`make run`), under both names a browser may use for it.
DEFAULT_UI_ORIGINS: Final = ("http://localhost:8233", "http://127.0.0.1:8233")
# Temporal refuses payloads over 2 MB and requests over 4 MB; a codec request is one event's payloads.
MAX_BODY_BYTES: Final = 8 * 1024 * 1024

LOGGER_NAME: Final = "api.codec_server"


class CodecServerSettings(BaseSettings):
    """Where the codec server listens and which Web UI origins may call it: `TRIALFLOW_CODEC_*`."""

    model_config = SettingsConfigDict(env_prefix="TRIALFLOW_CODEC_", env_file=".env", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8081, ge=1, le=65535)
    # Comma-separated in the environment: TRIALFLOW_CODEC_CORS_ORIGINS=https://temporal.example.org,...
    cors_origins: CommaSeparated = DEFAULT_UI_ORIGINS

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        problems = [f"{origin!r}: {problem}" for origin in origins if (problem := origin_problem(origin))]
        if problems:
            raise ValueError("; ".join(problems))
        return origins


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not a browser origin (scheme://host[:port], nothing after), or None when it is one."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "an origin is http(s)://host[:port]"
    if parts.path or parts.query or parts.fragment or parts.username:
        return "an origin has no path (not even a trailing '/'), query or user; browsers send none"
    return None


# ---------------------------------------------------------------- the app

_bearer = HTTPBearer(auto_error=False, description="A token configured for one user and role")


def _audit(level: str, event: str, request: Request, actor: Actor | None = None, **counts: object) -> None:
    """One line per request: who, where, how many payloads and under which key ids; never a payload's content."""
    # Looked up per call, not cached at import: the line goes wherever logging is configured at the time.
    getattr(get_logger(LOGGER_NAME), level)(
        event,
        user_id=actor.user_id if actor else None,
        role=actor.role.value if actor else None,
        path=request.url.path,
        # The caller names the namespace; shortened so a log line stays a line.
        namespace=request.headers.get("x-namespace", "")[:100] or None,
        **counts,
    )


async def phi_reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """The authenticated actor (401 otherwise, as the API answers), whose role may read PHI (403 otherwise)."""
    try:
        actor = await authenticated_actor(request, credentials)
    except Problem:
        _audit("warning", "codec_refused", request, reason="unauthenticated")
        raise
    if actor.role not in request.app.state.reader_roles:
        _audit("warning", "codec_refused", request, actor, reason="role may not read patient data")
        role = actor.role.value.replace("_", " ")
        raise Problem(403, "forbidden", "Not allowed", f"a {role} may not read encrypted patient data")
    return actor


async def _payloads_in(request: Request) -> list[Payload]:
    """The request's Payloads, read up to MAX_BODY_BYTES; 400 when they are not Payloads in protobuf JSON."""
    # The body both ways: `temporal.api.common.v1.Payloads`, {"payloads": [{"metadata": {...}, "data": "<base64>"}]}.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Problem(413, "too_large", "Request too large", f"a codec request is at most {MAX_BODY_BYTES} bytes")
    message = Payloads()
    try:
        json_format.Parse(bytes(body), message)
    except (json_format.ParseError, UnicodeDecodeError):
        # The parser's message may quote the body: a payload in clear, so it is not passed on.
        raise Problem(
            400,
            "invalid_payloads",
            "Invalid payloads",
            'the body must be Payloads in protobuf JSON: {"payloads": [{"metadata": {...}, "data": "<base64>"}]}',
        ) from None
    return list(message.payloads)


def _payloads_out(payloads: Sequence[Payload]) -> JSONResponse:
    document = json_format.MessageToDict(Payloads(payloads=payloads))
    document.setdefault("payloads", [])  # proto JSON leaves an empty list out; the protocol's readers expect it
    return JSONResponse(document)


def _key_ids(payloads: Sequence[Payload]) -> list[str]:
    return sorted({p.metadata[KEY_ID_METADATA_KEY].decode("ascii", "replace") for p in payloads if is_encrypted(p)})


Reader = Annotated[Actor, Depends(phi_reader)]


def create_codec_app(
    keyring: PayloadKeyring,
    auth: Authenticator,
    *,
    cors_origins: Sequence[str] = DEFAULT_UI_ORIGINS,
    reader_roles: frozenset[Role] = PHI_READER_ROLES,
) -> FastAPI:
    """The codec server over `keyring`, for `auth`'s tokens, answering browsers from `cors_origins`."""
    if problems := [f"{origin!r}: {problem}" for origin in cors_origins if (problem := origin_problem(origin))]:
        raise ValueError("invalid CORS origins: " + "; ".join(problems))
    codec = EncryptionCodec(keyring)
    compressing = CompressionCodec(then=codec)  # as the workers' converter encodes
    app = FastAPI(
        title="trialflow codec server",
        summary="Temporal's remote codec protocol over the payload keys.",
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_url=None,  # the protocol is Temporal's, documented there
    )
    app.state.authenticator = auth
    app.state.reader_roles = reader_roles
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["POST"],
        # What the Web UI's codec client sends: the body's type, the namespace, and the user's token.
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
        max_age=600,
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def encode(request: Request, actor: Reader) -> JSONResponse:
        payloads = await _payloads_in(request)
        encoded = await compressing.encode(payloads)
        _audit("info", "codec_encode", request, actor, payloads=len(payloads), key_ids=[keyring.active_key_id])
        return _payloads_out(encoded)

    async def decode(request: Request, actor: Reader) -> JSONResponse:
        payloads = await _payloads_in(request)
        decoded, problems = [], []
        for index, payload in enumerate(payloads):
            try:
                decoded.append(decompress(codec.decrypt(payload)))  # large payloads are compressed first
            except (PayloadDecryptionError, PayloadDecompressionError) as error:
                problems.append(f"payloads[{index}]: {error}")
        key_ids = _key_ids(payloads)
        if problems:
            _audit("warning", "codec_decode_refused", request, actor, payloads=len(payloads), key_ids=key_ids)
            raise Problem(
                400, "undecodable", "Cannot decode", f"{len(problems)} payload(s) cannot be decoded", problems
            )
        # A payload in clear did not come from the trial: it is answered as the refusal marker (binary, its bytes
        # opaque), never as a decoded value that would look like the trial's own.
        unencrypted = sum(1 for payload in decoded if is_refused(payload))
        level = "warning" if unencrypted else "info"
        _audit(level, "codec_decode", request, actor, payloads=len(payloads), key_ids=key_ids, unencrypted=unencrypted)
        return _payloads_out(decoded)

    # Only the last path segment names the operation: `/decode` and `/<namespace>/decode` alike.
    operations: dict[str, Callable[..., Awaitable[JSONResponse]]] = {"encode": encode, "decode": decode}
    for name, endpoint in operations.items():
        for path in (f"/{name}", f"/{{prefix:path}}/{name}"):
            app.add_api_route(path, endpoint, methods=["POST"], name=f"{name} {path}")
    return app


# ---------------------------------------------------------------- python -m api.codec_server


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.codec_server", description="Temporal codec server")
    parser.add_argument("--host", help="address to listen on (default TRIALFLOW_CODEC_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default TRIALFLOW_CODEC_PORT or 8081)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the codec server with uvicorn; 2 with every problem named when the configuration is bad."""
    import uvicorn  # only the served process needs it

    from config.production import ProductionSettingsError, check_production_payload_keys
    from config.settings import SettingsError, load_settings
    from security.configured_keys import payload_keyring
    from security.token_file import authenticator_for

    args = argument_parser().parse_args(argv)
    overrides = {name: value for name, value in (("host", args.host), ("port", args.port)) if value is not None}
    problems: list[str] = []
    settings = keyring = auth = process_settings = None
    try:
        settings = CodecServerSettings(**overrides)
    except ValidationError as error:
        problems += [
            f"TRIALFLOW_CODEC_{'.'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            for issue in error.errors(include_url=False, include_input=False)
        ]
    try:
        process_settings = load_settings()
    except SettingsError as error:
        problems.append(str(error))
    if process_settings is not None:
        try:
            # From the configured key provider: the key file, or Vault transit (security/configured_keys.py).
            keyring = payload_keyring(process_settings)
            if keyring is None:
                problems.append(f"no payload keys are configured: set {KEYS_ENV} or {KEYS_FILE_ENV}")
        except KeyringConfigurationError as error:
            problems.append(str(error))
        try:
            # The HTTP API's tokens: TRIALFLOW_API_TOKENS, else the token file that `trial admin token new` writes.
            auth = authenticator_for(process_settings)
        except TokenConfigurationError as error:
            problems.append(str(error))
        try:
            check_production_payload_keys(process_settings)
        except ProductionSettingsError as error:
            problems.append(str(error))
    if problems or settings is None or keyring is None or auth is None or process_settings is None:
        print("the codec server cannot start:\n" + "\n".join(problems), file=sys.stderr)
        return 2
    configure_logging(process_settings.log_format, process_settings.log_level)
    log = get_logger(LOGGER_NAME)
    if not auth.configured:
        log.warning("codec_no_tokens", hint="no API tokens configured (trial admin token new); every request is 401")
    app = create_codec_app(keyring, auth, cors_origins=settings.cors_origins)
    log.info(
        "codec_server_starting", url=f"http://{settings.host}:{settings.port}", origins=list(settings.cors_origins)
    )
    # log_config=None: uvicorn logs through the structlog handlers configured above.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
