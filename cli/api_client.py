"""The `trial` command as a client of the HTTP API: each staff and supervisor command is one request, sent with the
credential `trial login` saved. Who acts is whoever the credential identifies; nothing of the server's (its data
directory, keys, Temporal) is needed here, so the commands work from any folder.

Refusals come back as RFC 9457 problem documents and are printed as plain sentences naming every reason."""

from __future__ import annotations

import json
import re
import shlex
import ssl
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, NoReturn, TypeVar

import httpx
import typer

from cli.credentials import (
    DEFAULT_PROFILE,
    Credential,
    CredentialsFileError,
    CredentialStore,
    normalized_url,
    utc_now,
)
from cli.device_login import SignInFailed, refreshed
from cli.device_login import http_client as provider_http_client

API_URL_ENV: Final = "TRIALFLOW_API_URL"
PROFILE_ENV: Final = "TRIALFLOW_PROFILE"
DEFAULT_API_URL: Final = "http://127.0.0.1:8000"  # what `make run` serves (TRIALFLOW_API_PORT's default)
REFUSED_EXIT_CODE: Final = 1
USAGE_ERROR_EXIT_CODE: Final = 2
# A write whose outcome is unknown (its answer lost, the API unable to finish, the same key still in flight): sysexits'
# EX_TEMPFAIL, so a script can tell "retry it" from "refused". The one home of the number.
OUTCOME_UNKNOWN_EXIT_CODE: Final = 75
IDEMPOTENCY_KEY_OPTION: Final = "--idempotency-key"
PROGRAM: Final = "trial"  # the console script (pyproject.toml), as a person types it
# A write the API is still working on (Temporal, the record) is waited for this long before the reply counts as lost.
READ_TIMEOUT_SECONDS: Final = 60.0
CONNECT_TIMEOUT_SECONDS: Final = 5.0
PROBLEM_TYPE_PREFIX: Final = "tag:trialflow,2026:problem/"

ApiOption = Annotated[
    str,
    typer.Option(
        "--api",
        metavar="URL",
        envvar=API_URL_ENV,
        help=f"The trialflow HTTP API ({API_URL_ENV}; `make run` serves {DEFAULT_API_URL}).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        metavar="NAME",
        envvar=PROFILE_ENV,
        help=f"Whose saved credential to use, when several people sign in on one machine ({PROFILE_ENV}).",
        show_default=False,
    ),
]

T = TypeVar("T")


class NotSignedIn(Exception):
    """No saved credential for this API and profile."""


class Unreachable(Exception):
    """Nothing answered at the API's address: the request was not sent."""


class ReplyLost(Exception):
    """The request was sent but its reply never came: a write may or may not have been done."""


class ApiProblem(Exception):
    """The API refused: an RFC 9457 problem document (or what stood in for one)."""

    def __init__(self, status: int, document: Mapping[str, Any]) -> None:
        super().__init__(str(document.get("detail", "")))
        self.status = status
        detail = document.get("detail")
        self.detail = detail if isinstance(detail, str) and detail else f"the API answered HTTP {status}"
        reasons = document.get("reasons")
        self.reasons: tuple[str, ...] = (
            tuple(str(reason) for reason in reasons) if isinstance(reasons, list) and reasons else (self.detail,)
        )
        kind = document.get("type")
        self.code = (
            kind.removeprefix(PROBLEM_TYPE_PREFIX).replace("-", "_")
            if isinstance(kind, str) and kind.startswith(PROBLEM_TYPE_PREFIX)
            else f"http_{status}"
        )


def new_idempotency_key() -> str:
    """Sent with every write: the API answers a resent request with the same key again, never applying it twice."""
    return str(uuid.uuid4())


def tls_trust_for(api_url: str) -> ssl.SSLContext | bool:
    """What the client trusts for TLS: for an https API, httpx's default (certifi's bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR). A plain-http API has no TLS to check, and reading that bundle cost every command 55-100 ms here:
    it gets a client context with no certificate authority loaded, which would refuse any certificate."""
    if httpx.URL(api_url).scheme == "https":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names: trusts none


class ApiClient:
    """Requests to one API with one profile's credential; an OIDC access token is renewed when it has expired."""

    def __init__(
        self,
        api_url: str,
        profile: str = DEFAULT_PROFILE,
        store: CredentialStore | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = normalized_url(api_url)
        self.profile = profile
        self.store = store or CredentialStore()
        self._http = httpx.Client(
            base_url=self.api_url,
            timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            transport=transport,
            follow_redirects=False,
            verify=tls_trust_for(self.api_url),
        )

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ the credential

    def credential(self) -> Credential:
        found = self.store.get(self.api_url, self.profile)
        if found is None:
            raise NotSignedIn()
        if found.kind == "oidc" and found.expired(utc_now()) and found.refresh_token:
            found = self._renewed(found)
        return found

    def _renewed(self, credential: Credential) -> Credential:
        assert credential.token_endpoint and credential.client_id and credential.refresh_token
        with provider_http_client() as http:
            tokens = refreshed(http, credential.token_endpoint, credential.client_id, credential.refresh_token)
        renewed = credential.model_copy(
            update={
                "access_token": tokens.access_token,
                "expires_at": tokens.expires_at,
                "refresh_token": tokens.refresh_token,
            }
        )
        self.store.put(self.api_url, self.profile, renewed)
        return renewed

    # ------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        token: str | None = None,
    ) -> httpx.Response:
        """The API's answer (2xx); ApiProblem for a refusal, Unreachable / ReplyLost when no answer came."""
        sent_headers = dict(headers or {})
        if authenticated:
            sent_headers["Authorization"] = f"Bearer {token or self._signed_in_token()}"
        try:
            response = self._http.request(
                method,
                path,
                params={key: value for key, value in (params or {}).items() if value is not None},
                json=body,
                headers=sent_headers,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise Unreachable() from None
        except httpx.TransportError:
            raise ReplyLost() from None
        if response.status_code >= 400:
            raise ApiProblem(response.status_code, _problem_document(response))
        return response

    def _signed_in_token(self) -> str:
        try:
            return self.credential().access_token
        except NotSignedIn:
            # An API that does not answer is the first thing to put right: say so rather than "sign in".
            self.request("GET", "/healthz", authenticated=False)
            raise

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any, idempotency_key: str) -> Any:
        return self.request("POST", path, body=body, headers={"Idempotency-Key": idempotency_key}).json()


def _problem_document(response: httpx.Response) -> Mapping[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    return {"detail": f"the API answered HTTP {response.status_code} ({response.reason_phrase})"}


# ---------------------------------------------------------------- what the person is told


def _study_id_of(path: str) -> str | None:
    found = re.match(r"^/patients/([^/?]+)", path)
    return found.group(1) if found else None


def print_problem(problem: ApiProblem, study_id: str | None, as_json: bool) -> None:
    """Every reason the API gave, in plain words; with --json, {code, study_id, message, reasons} on stderr."""
    if as_json:
        document = {"code": problem.code, "study_id": study_id, "message": problem.detail, "reasons": problem.reasons}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False), err=True)
        return
    if len(problem.reasons) > 1 or problem.reasons[0] != problem.detail:
        count = len(problem.reasons)
        subject = f"{study_id}: refused" if study_id else "Refused"
        typer.echo(f"Error: {subject} for {count} reason{'' if count == 1 else 's'}:", err=True)
        for reason in problem.reasons:
            typer.echo(f"  - {reason}", err=True)
    else:
        typer.echo(f"Error: {problem.detail}", err=True)


def retry_command(context: typer.Context, key: str) -> str:
    """The command `context` runs, as typed (its command-line arguments, none from the environment), with
    `--idempotency-key KEY`: running it again resends the same request under the same key."""
    words = [PROGRAM, *context.command_path.split()[1:]]
    for parameter in context.command.params:
        name = parameter.name
        source = context.get_parameter_source(name) if name else None
        if name is None or source is None or source.name != "COMMANDLINE":
            continue
        value = context.params.get(name)
        if parameter.param_type_name == "argument":
            words.append(str(value))
            continue
        opts: list[str] = list(parameter.opts)
        if IDEMPOTENCY_KEY_OPTION in opts:
            continue
        if getattr(parameter, "is_flag", False):
            off = (list(parameter.secondary_opts) or [None])[0]
            chosen = opts[0] if value else off
            words.extend([chosen] if chosen else [])
            continue
        option = next((opt for opt in opts if opt.startswith("--")), opts[0])
        for each in value if parameter.multiple and isinstance(value, list | tuple) else [value]:
            words.extend([option, str(each)])
    return shlex.join([*words, IDEMPOTENCY_KEY_OPTION, key])


def _outcome_unknown(what: str, write: str, command: str | None) -> NoReturn:
    """Exit OUTCOME_UNKNOWN_EXIT_CODE, saying the step may or may not be recorded and how to retry it safely."""
    typer.echo(f"Error: {what}: {write} may or may not have been recorded.", err=True)
    if command is not None:
        typer.echo(
            "Retry it safely with the same Idempotency-Key (if it was recorded, the same answer comes back and "
            "nothing is recorded twice):",
            err=True,
        )
        typer.echo(f"  {command}", err=True)
        if any(word == "-" or word.endswith("-stdin") for word in shlex.split(command)):
            typer.echo("  (with the same input on stdin)", err=True)
    raise typer.Exit(OUTCOME_UNKNOWN_EXIT_CODE)


def login_hint(profile: str) -> str:
    return "`trial login`" if profile == DEFAULT_PROFILE else f"`trial login --profile {profile}`"


def fail(message: str, code: int = REFUSED_EXIT_CODE) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def call_api(
    api_url: str,
    profile: str,
    action: Callable[[ApiClient], T],
    as_json: bool,
    *,
    study_id: str | None = None,
    write: str | None = None,
    retry: str | None = None,
) -> T:
    """`action` on a client of the API; every failure becomes plain words and an exit code.

    `write`: what the request records (e.g. "record-consent for TF-001"), so an unknown outcome (a lost answer, a
    503, the same key still in flight) says what may have been recorded and exits OUTCOME_UNKNOWN_EXIT_CODE;
    `retry`: the command that resends it under the same Idempotency-Key (`retry_command`), printed then."""
    client = ApiClient(api_url, profile)
    try:
        return action(client)
    except NotSignedIn:
        fail(
            f"you are not signed in to the trialflow API at {client.api_url}"
            f"{'' if profile == DEFAULT_PROFILE else f' as profile {profile}'}: run {login_hint(profile)} first"
        )
    except CredentialsFileError as error:
        fail(str(error))
    except SignInFailed as error:
        fail(str(error))
    except Unreachable:
        fail(
            f"cannot reach the trialflow API at {client.api_url}: is `make run` running, "
            f"is {API_URL_ENV} (or --api) right?"
        )
    except ReplyLost:
        if write is None:
            fail(f"the trialflow API at {client.api_url} did not answer: try again")
        _outcome_unknown(
            f"the trialflow API at {client.api_url} took the request but its answer was lost", write, retry
        )
    except ApiProblem as problem:
        if problem.status == 401:
            why = problem.detail.split(": send Authorization")[0]  # the API's advice is for raw HTTP callers
            fail(
                f"the trialflow API at {client.api_url} did not accept your credential ({why}): "
                f"run {login_hint(profile)} again"
            )
        if write is not None and (problem.status == 503 or problem.code == "idempotency_key_in_flight"):
            # Temporal or the record could not answer, or the first send is still being processed: not a refusal.
            _outcome_unknown(f"the trialflow API could not finish the request ({problem.detail})", write, retry)
        print_problem(problem, study_id, as_json)
        raise typer.Exit(USAGE_ERROR_EXIT_CODE if problem.status == 422 else REFUSED_EXIT_CODE) from None
    finally:
        client.close()
