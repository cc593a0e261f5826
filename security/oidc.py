"""OpenID Connect bearer tokens: a JWT signed by the configured issuer, verified against the issuer's published
keys (JWKS), mapped to an Actor by two claims: who (`preferred_username`, else `sub`) and the study role.

Only asymmetric algorithms are accepted; claims and keys as docs/deployment.md, "Signing in with OpenID Connect"."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.error import URLError

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWTError,
)
from pydantic import Field, ValidationError

from config.settings import OIDC_ALGORITHMS, Settings, oidc_url_problem
from domain.protocol import FrozenModel
from domain.roles import Actor, Role
from security.auth import AuthenticationFailed, AuthenticationUnavailable, Authenticator, TokenEntry

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
DEFAULT_KEYS_CACHE_SECONDS: Final = 300.0  # the issuer's key set is fetched again at most this often...
DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS: Final = 30.0  # ...or sooner for an unseen key id, at most this often
DEFAULT_HTTP_TIMEOUT_SECONDS: Final = 5.0
# After a failed discovery, tokens are answered "cannot be checked" at once for this long, not each after a timeout.
DEFAULT_DISCOVERY_RETRY_SECONDS: Final = 10.0
_DISCOVERY_MAX_BYTES: Final = 1024 * 1024
# Claims every accepted token carries; `nbf` is checked when present.
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud")
# header.payload.signature, each base64url; what a static token (token_urlsafe: no dots) never looks like.
_JWT_SHAPE: Final = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ALGORITHM_NAME: Final = re.compile(r"^[A-Za-z0-9]{1,16}$")
_ROLE_NAMES: Final = frozenset(role.value for role in Role)


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts whose first is a JSON object: a JWT. Anything else is a static token."""
    if not _JWT_SHAPE.fullmatch(token):
        return False
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict)


class SignInConfig(FrozenModel):
    """How a person signs in to get a token this API accepts (`GET /auth/config`, read by `trial login`)."""

    issuer: str = Field(
        description="The OpenID provider; its endpoints are in <issuer>/.well-known/openid-configuration"
    )
    client_id: str = Field(description="The public client the trialflow CLI signs in as (device authorization grant)")
    scopes: tuple[str, ...] = Field(description="The scopes the CLI requests")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The discovery document is read from the issuer's own URL, never from wherever a redirect points."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class OidcAuthenticator:
    """Verifies JWT bearer tokens of one issuer and audience; thread-safe (the API calls it from worker threads)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        user_claim: str = "preferred_username",
        role_claim: str = "trialflow_role",
        role_prefix: str = "",
        algorithms: Sequence[str] = ("RS256", "ES256"),
        leeway_seconds: float = 30,
        keys_cache_seconds: float = DEFAULT_KEYS_CACHE_SECONDS,
        unknown_key_cooldown_seconds: float = DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS,
        http_timeout_seconds: float = DEFAULT_HTTP_TIMEOUT_SECONDS,
        discovery_retry_seconds: float = DEFAULT_DISCOVERY_RETRY_SECONDS,
        cli_client_id: str = "trialflow-cli",
        cli_scopes: Sequence[str] = ("openid", "profile", "offline_access"),
    ) -> None:
        refused = [name for name in algorithms if name not in OIDC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"only asymmetric JWT algorithms are accepted ({', '.join(OIDC_ALGORITHMS)})")
        for what, url in (("issuer", issuer), ("JWKS URL", jwks_url)):
            problem = oidc_url_problem(url) if url is not None else None
            if problem:
                raise ValueError(f"the OIDC {what} {problem}")
        if not audience:
            raise ValueError("an OIDC audience is required: the client id every token must name")
        self.issuer, self.audience = issuer, audience
        self._jwks_url = jwks_url
        self._user_claim, self._role_claim, self._role_prefix = user_claim, role_claim, role_prefix
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._keys_cache_seconds = keys_cache_seconds
        self._cooldown = unknown_key_cooldown_seconds
        self._timeout = http_timeout_seconds
        self._discovery_retry = discovery_retry_seconds
        self._client: PyJWKClient | None = None
        self._client_lock = threading.Lock()
        self._discovery_failed_at: float | None = None
        self.sign_in = SignInConfig(issuer=issuer, client_id=cli_client_id, scopes=tuple(cli_scopes))

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcAuthenticator:
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url or None,
            user_claim=settings.oidc_user_claim,
            role_claim=settings.oidc_role_claim,
            role_prefix=settings.oidc_role_prefix,
            algorithms=settings.oidc_algorithms,
            leeway_seconds=settings.oidc_leeway_seconds,
            cli_client_id=settings.oidc_cli_client_id,
            cli_scopes=tuple(settings.oidc_cli_scopes.split()),
        )

    @property
    def configured(self) -> int:
        return 1  # one issuer

    # ------------------------------------------------------------ verifying a token

    def actor_for(self, token: str | None) -> Actor | None:
        """The token's actor; AuthenticationFailed naming why it is refused; None when there is no token."""
        if not token:
            return None
        return self._actor(self._claims(token))

    def printed_name_for(self, token: str) -> str | None:
        """The token's `name` claim (OpenID Connect Core §5.1: the full name in displayable form), verified."""
        return _text(self._claims(token).get("name"))

    def _claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its header, key and signature check out; AuthenticationFailed naming why."""
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise AuthenticationFailed("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            shown = repr(algorithm) if isinstance(algorithm, str) and _ALGORITHM_NAME.fullmatch(algorithm) else "?"
            raise AuthenticationFailed(
                f"the token is signed with algorithm {shown}, which is not accepted "
                f"(accepted: {', '.join(self._algorithms)})"
            )
        key_id = header.get("kid")
        if not isinstance(key_id, str) or not key_id:
            raise AuthenticationFailed("the token names no signing key (its header has no kid)")
        return self._verified_claims(token, self._signing_key(key_id))

    def _verified_claims(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(self._algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except InvalidTokenError as error:
            raise AuthenticationFailed(self._refusal_reason(error)) from None
        return claims

    def _refusal_reason(self, error: InvalidTokenError) -> str:
        """Why PyJWT refused the token, in words; never the token, nor the claim values it carried."""
        match error:
            case ExpiredSignatureError():
                return "the token has expired: sign in again"
            case ImmatureSignatureError():
                return "the token is not valid yet: its nbf or iat lies in the future"
            case InvalidAudienceError():
                return f"the token is not meant for this API: its audience is not {self.audience!r}"
            case InvalidIssuerError():
                return f"the token was not issued by {self.issuer}"
            case MissingRequiredClaimError():
                return f"the token has no {error.claim!r} claim"
            case InvalidAlgorithmError():
                return "the token's algorithm is not accepted, or is not its signing key's algorithm"
            case InvalidSignatureError():
                return "the token's signature does not verify with the issuer's key"
            case InvalidIssuedAtError():
                return "the token's iat claim is not a time"
            case DecodeError():
                return "the token is not a well-formed JWT"
        return "the token is not valid"

    def _actor(self, claims: Mapping[str, Any]) -> Actor:
        user_id = _text(claims.get(self._user_claim)) or _text(claims.get("sub"))
        if user_id is None:
            raise AuthenticationFailed(f"the token names no user: it has neither a {self._user_claim!r} nor a 'sub'")
        role = self._role(claims)
        try:
            return Actor(user_id=user_id, role=role)
        except ValidationError:
            raise AuthenticationFailed(
                "the token's user is not a usable user id (letters, digits and . _ @ -, at most 64 characters)"
            ) from None

    def _role(self, claims: Mapping[str, Any]) -> Role:
        # A text naming one study role, or a list (a provider's groups or roles) holding exactly one; with a prefix,
        # only values carrying it count. Never the system role: its commands are the workflow's own.
        value = _claim(claims, self._role_claim)
        if value is None:
            raise AuthenticationFailed(f"the token carries no study role: it has no {self._role_claim!r} claim")
        candidates = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        roles: set[Role] = set()
        for candidate in candidates:
            if not isinstance(candidate, str) or not candidate.startswith(self._role_prefix):
                continue
            name = candidate.removeprefix(self._role_prefix).strip().lower().replace("-", "_")
            if name in _ROLE_NAMES:
                roles.add(Role(name))
        if Role.SYSTEM in roles:
            raise AuthenticationFailed("the token names the system role, which no person may act as")
        if not roles:
            known = ", ".join(role.value for role in Role if role is not Role.SYSTEM)
            raise AuthenticationFailed(
                f"the token carries no study role: its {self._role_claim!r} claim names none of {known}"
            )
        if len(roles) > 1:
            named = ", ".join(sorted(role.value for role in roles))
            raise AuthenticationFailed(f"the token names {len(roles)} study roles ({named}): a credential acts in one")
        return roles.pop()

    # ------------------------------------------------------------ the issuer's keys

    def _signing_key(self, key_id: str) -> PyJWK:
        client = self._keys_client()
        try:
            return client.get_signing_key(key_id)
        except PyJWKClientConnectionError:
            raise AuthenticationUnavailable(f"the signing keys of {self.issuer} cannot be fetched just now") from None
        except PyJWKClientError as error:
            if str(error).startswith("Unable to find a signing key"):
                raise AuthenticationFailed(
                    "the token was signed with a key the issuer does not publish (unknown key id)"
                ) from None
            raise AuthenticationUnavailable(f"the key set of {self.issuer} holds no usable signing key") from None
        except PyJWTError:
            raise AuthenticationUnavailable(f"the key set of {self.issuer} is not a valid JWKS") from None

    def _keys_client(self) -> PyJWKClient:
        # Made at the first JWT, not at start-up: an identity provider briefly down does not stop the API. An unseen
        # key id fetches the set again (at most once per cooldown), so a rotated key works at once.
        with self._client_lock:
            if self._client is None:
                self._client = PyJWKClient(
                    self._jwks_url or self._remembered_discovery(),
                    lifespan=self._keys_cache_seconds,
                    cooldown_duration=self._cooldown,
                    timeout=self._timeout,
                )
            return self._client

    def _remembered_discovery(self) -> str:
        failed_at = self._discovery_failed_at
        if failed_at is not None and time.monotonic() - failed_at < self._discovery_retry:
            raise AuthenticationUnavailable(f"the discovery document of {self.issuer} could not be read just now")
        try:
            return self._discovered_jwks_url()
        except AuthenticationUnavailable:
            self._discovery_failed_at = time.monotonic()
            raise

    def _discovered_jwks_url(self) -> str:
        """`jwks_uri` from the issuer's discovery document, which must name the same issuer."""
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        unavailable = f"the discovery document of {self.issuer} cannot be read"
        try:
            opener = urllib.request.build_opener(_NoRedirects())
            with opener.open(urllib.request.Request(url), timeout=self._timeout) as response:
                document = json.loads(response.read(_DISCOVERY_MAX_BYTES + 1)[:_DISCOVERY_MAX_BYTES])
        except (URLError, TimeoutError, OSError, ValueError):
            raise AuthenticationUnavailable(unavailable) from None
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise AuthenticationUnavailable(f"{unavailable}: it does not name {self.issuer} as its issuer")
        jwks_url = document.get("jwks_uri")
        if not isinstance(jwks_url, str) or oidc_url_problem(jwks_url):
            raise AuthenticationUnavailable(f"{unavailable}: its jwks_uri is missing or not an https URL")
        return jwks_url


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _claim(claims: Mapping[str, Any], name: str) -> object:
    """The claim `name`; a dotted name that is not itself a claim reaches into objects (`realm_access.roles`)."""
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class CombinedAuthenticator:
    """A JWT goes to the issuer's keys; any other token to the static tokens (service accounts)."""

    def __init__(self, jwt_tokens: Authenticator, static_tokens: Authenticator) -> None:
        self._jwt_tokens, self._static_tokens = jwt_tokens, static_tokens
        self.sign_in: SignInConfig | None = getattr(jwt_tokens, "sign_in", None)

    @property
    def configured(self) -> int:
        return self._jwt_tokens.configured + self._static_tokens.configured

    def actor_for(self, token: str | None) -> Actor | None:
        if not token:
            return None
        return self._for(token).actor_for(token)

    def printed_name_for(self, token: str) -> str | None:
        return self._for(token).printed_name_for(token)

    def _for(self, token: str) -> Authenticator:
        return self._jwt_tokens if looks_like_jwt(token) else self._static_tokens

    def token_entry(self, token: str) -> TokenEntry | None:
        """The static token's entry (for its last use); None for a JWT or an unknown token."""
        return None if looks_like_jwt(token) else token_entry_of(self._static_tokens, token)


def token_entry_of(auth: Authenticator, token: str) -> TokenEntry | None:
    """The configured static-token entry `token` matches, if `auth` keeps static tokens; else None."""
    finder = getattr(auth, "token_entry", None)
    return finder(token) if finder is not None else None
