"""OIDC/JWT bearer tokens against a real issuer served over HTTP on loopback: discovery, cached keys, key rotation,
every refusal named (expired, wrong issuer or audience, alg none, HS256 with the public key, unknown key, no role)
without echoing the token; static tokens still work beside them; and all of it through the FastAPI app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from config.settings import SettingsError, load_settings
from domain.roles import Actor, Role
from security.auth import (
    AuthenticationFailed,
    AuthenticationUnavailable,
    TokenAuthenticator,
    TokenEntry,
    hash_token,
    new_token,
)
from security.oidc import CombinedAuthenticator, OidcAuthenticator, looks_like_jwt
from security.token_file import TokenFile, authenticator_for
from tests.api.oidc_issuer import AUDIENCE, DISCOVERY, JWKS, Issuer, running_issuer
from tests.facade.journeys import enrollment
from tests.servers import Stack
from tests.waiting import poll
from workers.dev_server import free_port


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        yield running


def authenticator(issuer: Issuer, **options: Any) -> OidcAuthenticator:
    # No cooldown by default: a test rotating keys need not wait for one.
    options.setdefault("unknown_key_cooldown_seconds", 0)
    return OidcAuthenticator(issuer=issuer.url, audience=AUDIENCE, **options)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def hs256_with_the_public_key(issuer: Issuer, kid: str = "rsa-1") -> str:
    """The classic confusion attack: HMAC-signed with the issuer's public key (which everyone has) as the secret."""
    public_pem = (
        issuer.keys[kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, claims = {"alg": "HS256", "typ": "JWT", "kid": kid}, issuer.claims(trialflow_role="investigator")
    signing_input = unsigned_token(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def refusal(auth: OidcAuthenticator, token: str) -> str:
    """Why `auth` refuses `token`; the reason never quotes the token or its signature."""
    with pytest.raises(AuthenticationFailed) as refused:
        auth.actor_for(token)
    reason = refused.value.reason
    signature = token.rsplit(".", 1)[-1]
    assert token not in reason and (not signature or signature[:12] not in reason)
    return reason


# ---------------------------------------------------------------- accepted tokens


def test_a_token_of_the_issuer_maps_to_its_user_and_role_and_the_keys_are_discovered_then_cached(
    issuer: Issuer,
) -> None:
    auth = authenticator(issuer)
    assert auth.actor_for(issuer.token()) == Actor(user_id="nurse.wang", role=Role.NURSE)
    ec_token = issuer.token("ec-1", preferred_username="dr.li", trialflow_role="physician")
    assert auth.actor_for(ec_token) == Actor(user_id="dr.li", role=Role.PHYSICIAN)
    for _ in range(5):
        assert auth.actor_for(issuer.token(preferred_username="nurse.ali")) is not None
    # Discovered once, keys fetched once: seven tokens, two requests to the issuer.
    assert issuer.fetched == {DISCOVERY: 1, JWKS: 1}


def test_a_configured_jwks_url_is_used_without_discovery(issuer: Issuer) -> None:
    auth = authenticator(issuer, jwks_url=issuer.jwks_url)
    assert auth.actor_for(issuer.token()) == Actor(user_id="nurse.wang", role=Role.NURSE)
    assert issuer.fetched == {JWKS: 1}


def test_without_preferred_username_the_subject_is_the_user(issuer: Issuer) -> None:
    token = issuer.token(preferred_username=None, sub="a1b2c3d4-e5f6")
    assert authenticator(issuer).actor_for(token) == Actor(user_id="a1b2c3d4-e5f6", role=Role.NURSE)
    custom = authenticator(issuer, user_claim="email").actor_for(issuer.token(email="li@site.example"))
    assert custom == Actor(user_id="li@site.example", role=Role.NURSE)


def test_the_role_may_come_from_a_list_claim_with_a_prefix_or_from_inside_an_object(issuer: Issuer) -> None:
    groups = authenticator(issuer, role_claim="groups", role_prefix="trialflow-")
    token = issuer.token(trialflow_role=None, groups=["staff", "trialflow-Research-Coordinator", "radiology"])
    assert groups.actor_for(token) == Actor(user_id="nurse.wang", role=Role.RESEARCH_COORDINATOR)
    # Another application's role of the same name does not count without the prefix.
    assert "names none of" in refusal(groups, issuer.token(trialflow_role=None, groups=["nurse"]))

    keycloak = authenticator(issuer, role_claim="realm_access.roles")
    token = issuer.token(trialflow_role=None, realm_access={"roles": ["offline_access", "investigator"]})
    assert keycloak.actor_for(token) == Actor(user_id="nurse.wang", role=Role.INVESTIGATOR)

    # A claim named like a URL (dots and all) is found as it is.
    namespaced = authenticator(issuer, role_claim="https://trialflow.example.org/role")
    token = issuer.token(trialflow_role=None, **{"https://trialflow.example.org/role": "pharmacy"})
    assert namespaced.actor_for(token) == Actor(user_id="nurse.wang", role=Role.PHARMACY)


# ---------------------------------------------------------------- refused tokens, each with its reason


def test_an_expired_or_not_yet_valid_token_is_refused_with_a_small_leeway(issuer: Issuer) -> None:
    auth = authenticator(issuer, leeway_seconds=30)
    now = int(time.time())
    expired_two_minutes_ago = issuer.token(iat=now - 600, exp=now - 120)
    assert "expired" in refusal(auth, expired_two_minutes_ago)
    assert authenticator(issuer, leeway_seconds=300).actor_for(expired_two_minutes_ago) is not None
    assert "not valid yet" in refusal(auth, issuer.token(nbf=now + 600))
    assert "not valid yet" in refusal(auth, issuer.token(iat=now + 600, exp=now + 900))


def test_a_token_of_another_issuer_or_for_another_audience_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    assert f"not issued by {issuer.url}" in refusal(auth, issuer.token(iss="https://elsewhere.example.org/realms/x"))
    assert "not meant for this API" in refusal(auth, issuer.token(aud="another-app"))
    assert auth.actor_for(issuer.token(aud=["another-app", AUDIENCE])) is not None


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud"])
def test_a_token_missing_a_required_claim_is_refused(issuer: Issuer, claim: str) -> None:
    assert f"no '{claim}' claim" in refusal(authenticator(issuer), issuer.token(**{claim: None}))


def test_alg_none_and_hs256_signed_with_the_public_key_are_refused_before_any_key_is_fetched(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    none_token = unsigned_token({"alg": "none", "kid": "rsa-1"}, issuer.claims(trialflow_role="investigator"))
    assert "algorithm 'none', which is not accepted" in refusal(auth, none_token)
    assert "algorithm 'HS256', which is not accepted" in refusal(auth, hs256_with_the_public_key(issuer))
    assert issuer.fetched == {}
    # Even were HS256 configured by mistake, the settings refuse it (see below), and so does the authenticator.
    with pytest.raises(ValueError, match="only asymmetric"):
        authenticator(issuer, algorithms=("RS256", "HS256"))


def test_a_token_whose_algorithm_is_not_its_keys_is_refused(issuer: Issuer) -> None:
    # ES256 claimed in the header, but the key named is an RSA key.
    auth = authenticator(issuer)
    forged = unsigned_token({"alg": "ES256", "kid": "rsa-1"}, issuer.claims(), signature=b"\x00" * 64)
    assert "not its signing key's algorithm" in refusal(auth, forged)


def test_a_tampered_or_malformed_token_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    header, claims, signature = issuer.token().split(".")
    promoted = b64url(json.dumps(issuer.claims(trialflow_role="investigator")).encode())
    assert "signature does not verify" in refusal(auth, f"{header}.{promoted}.{signature}")
    assert "not a well-formed JWT" in refusal(auth, f"{header}.{claims}x.{signature}")
    assert "not a well-formed JWT" in refusal(auth, "not.a.jwt")


def test_a_token_signed_with_an_unknown_key_or_naming_none_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    assert "unknown key id" in refusal(auth, issuer.token("rsa-2"))  # rsa-2 is not published
    no_kid = unsigned_token({"alg": "RS256"}, issuer.claims(), signature=b"\x01" * 256)
    assert "names no signing key" in refusal(auth, no_kid)


def test_a_token_without_a_usable_role_or_user_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    assert "has no 'trialflow_role' claim" in refusal(auth, issuer.token(trialflow_role=None))
    assert "names none of" in refusal(auth, issuer.token(trialflow_role="dean"))
    assert "system role" in refusal(auth, issuer.token(trialflow_role="system"))
    groups = authenticator(issuer, role_claim="roles")
    assert "2 study roles (nurse, physician)" in refusal(
        groups, issuer.token(trialflow_role=None, roles=["nurse", "physician"])
    )
    assert "names no user" in refusal(auth, issuer.token(preferred_username=None, sub=None))
    assert "not a usable user id" in refusal(auth, issuer.token(preferred_username="Nurse Wang"))


# ---------------------------------------------------------------- key rotation and the issuer's availability


def test_a_rotated_key_is_picked_up_by_its_new_kid_and_the_retired_one_then_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    old_token = issuer.token("rsa-1")
    assert auth.actor_for(old_token) is not None
    assert "unknown key id" in refusal(auth, issuer.token("rsa-2"))

    issuer.published = ["rsa-2", "ec-1"]  # the issuer rotates: rsa-2 in, rsa-1 retired
    assert auth.actor_for(issuer.token("rsa-2")) == Actor(user_id="nurse.wang", role=Role.NURSE)
    assert "unknown key id" in refusal(auth, old_token)
    assert issuer.fetched[DISCOVERY] == 1


def test_unknown_key_ids_do_not_make_the_api_fetch_the_keys_on_every_request(issuer: Issuer) -> None:
    auth = authenticator(issuer, unknown_key_cooldown_seconds=600)
    assert auth.actor_for(issuer.token()) is not None
    for _ in range(20):
        refusal(auth, issuer.token("rsa-2"))
    assert issuer.fetched[JWKS] == 1  # within the cooldown the cached set answers


def test_an_unreachable_or_inconsistent_issuer_makes_tokens_uncheckable_not_invalid(issuer: Issuer) -> None:
    token = issuer.token()
    down = OidcAuthenticator(
        issuer=f"http://127.0.0.1:{free_port()}/realms/trial", audience=AUDIENCE, discovery_retry_seconds=3600
    )
    with pytest.raises(AuthenticationUnavailable, match=r"discovery document .* cannot be read"):
        down.actor_for(token)
    # Remembered for a moment: the next token is answered at once rather than after another timeout.
    with pytest.raises(AuthenticationUnavailable, match="could not be read just now"):
        down.actor_for(token)
    issuer.discovery_issuer = "https://impostor.example.org"
    with pytest.raises(AuthenticationUnavailable, match="does not name"):
        authenticator(issuer).actor_for(token)


# ---------------------------------------------------------------- static tokens beside JWTs, and configuration


def test_a_jwt_goes_to_the_issuer_and_any_other_token_to_the_static_tokens(issuer: Issuer) -> None:
    service_token = new_token()
    static = TokenAuthenticator(
        [TokenEntry(sha256=hash_token(service_token), user_id="svc.reports", role=Role.SUPERVISOR)]
    )
    combined = CombinedAuthenticator(authenticator(issuer), static)
    assert combined.configured == 2
    assert combined.actor_for(service_token) == Actor(user_id="svc.reports", role=Role.SUPERVISOR)
    assert combined.actor_for(issuer.token()) == Actor(user_id="nurse.wang", role=Role.NURSE)
    assert combined.actor_for("some-unknown-static-token") is None
    assert combined.actor_for(None) is None
    with pytest.raises(AuthenticationFailed):
        combined.actor_for(issuer.token(aud="another-app"))

    assert looks_like_jwt(issuer.token()) and looks_like_jwt("eyJhbGciOiJub25lIn0.e30.")
    assert not looks_like_jwt(service_token) and not looks_like_jwt("a.b.c") and not looks_like_jwt("x")


def test_authenticator_for_adds_the_issuer_to_the_token_file_when_configured(
    issuer: Issuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = tmp_path / "api-tokens.json"
    service_token = TokenFile(tokens).add(Actor(user_id="svc.reports", role=Role.SUPERVISOR))
    monkeypatch.setenv("TRIALFLOW_API_TOKENS_FILE", str(tokens))
    assert isinstance(authenticator_for(load_settings()), TokenFile)

    monkeypatch.setenv("TRIALFLOW_OIDC_ISSUER", issuer.url)
    monkeypatch.setenv("TRIALFLOW_OIDC_AUDIENCE", AUDIENCE)
    combined = authenticator_for(load_settings())
    assert issuer.fetched == {}  # nothing fetched until a JWT arrives
    assert combined.actor_for(service_token) == Actor(user_id="svc.reports", role=Role.SUPERVISOR)
    assert combined.actor_for(issuer.token()) == Actor(user_id="nurse.wang", role=Role.NURSE)


def test_every_problem_with_the_oidc_settings_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALFLOW_OIDC_ISSUER", "http://login.example.org/realms/trial")
    monkeypatch.setenv("TRIALFLOW_OIDC_JWKS_URL", "file:///etc/passwd")
    monkeypatch.setenv("TRIALFLOW_OIDC_ALGORITHMS", "RS256,HS256,none")
    monkeypatch.setenv("TRIALFLOW_OIDC_LEEWAY_SECONDS", "3600")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    for variable in ("OIDC_ISSUER: ", "OIDC_JWKS_URL: ", "OIDC_ALGORITHMS: ", "OIDC_LEEWAY_SECONDS: "):
        assert variable in message, message
    assert "must use https" in message and "not allowed: HS256, none" in message

    monkeypatch.delenv("TRIALFLOW_OIDC_JWKS_URL")
    monkeypatch.delenv("TRIALFLOW_OIDC_ALGORITHMS")
    monkeypatch.delenv("TRIALFLOW_OIDC_LEEWAY_SECONDS")
    monkeypatch.setenv("TRIALFLOW_OIDC_ISSUER", "https://login.example.org/realms/trial")
    with pytest.raises(SettingsError, match="OIDC_ISSUER needs TRIALFLOW_OIDC_AUDIENCE"):
        load_settings()
    monkeypatch.setenv("TRIALFLOW_OIDC_AUDIENCE", AUDIENCE)
    settings = load_settings()
    assert settings.oidc_algorithms == ("RS256", "ES256") and settings.oidc_leeway_seconds == 30


# ---------------------------------------------------------------- through the FastAPI app


SERVICE_TOKEN = "service-token-of-the-report-robot"


@dataclass(frozen=True)
class OidcApi:
    http: httpx.AsyncClient
    issuer: Issuer


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def oidc_api(stack: Stack) -> AsyncIterator[OidcApi]:
    with running_issuer() as issuer:
        static = TokenAuthenticator(
            [TokenEntry(sha256=hash_token(SERVICE_TOKEN), user_id="svc.reports", role=Role.SUPERVISOR)]
        )
        app = create_app(stack.trial, CombinedAuthenticator(authenticator(issuer), static))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trialflow.test") as http:
            yield OidcApi(http, issuer)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def enrollment_body(study_id: str) -> dict[str, Any]:
    return {"study_id": study_id, "screening": enrollment(study_id).screening.model_dump(mode="json")}


async def test_the_user_and_role_of_a_jwt_act_through_the_api(oidc_api: OidcApi) -> None:
    issuer, http = oidc_api.issuer, oidc_api.http
    coordinator = issuer.token(preferred_username="coordinator.kim", trialflow_role="research_coordinator")
    response = await http.post("/patients", json=enrollment_body("OI-1001"), headers=bearer(coordinator))
    assert response.status_code == 201, response.text

    supervisor = issuer.token("ec-1", preferred_username="monitor.zhou", trialflow_role="supervisor")

    async def entries() -> list[dict[str, Any]] | None:
        answer = await http.get("/patients/OI-1001/timeline", headers=bearer(supervisor))
        return answer.json()["entries"] or None

    assert {(e["actor_user_id"], e["actor_role"]) for e in await poll(entries, "the enrollment recorded")} == {
        ("coordinator.kim", "research_coordinator")
    }
    refused = await http.post(
        "/patients/OI-1001/commands", json={"kind": "confirm_eligibility"}, headers=bearer(supervisor)
    )
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
    # The service account's static token works beside the issuer's JWTs.
    assert (await http.get("/report", headers=bearer(SERVICE_TOKEN))).status_code == 200


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda issuer: issuer.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600), "expired"),
        (lambda issuer: issuer.token(aud="another-app"), "not meant for this API"),
        (lambda issuer: issuer.token(iss="https://elsewhere.example.org"), "not issued by"),
        (lambda issuer: issuer.token("rsa-2"), "unknown key id"),
        (lambda issuer: issuer.token(trialflow_role=None), "no study role"),
        (lambda issuer: hs256_with_the_public_key(issuer), "'HS256', which is not accepted"),
        (lambda issuer: unsigned_token({"alg": "none", "kid": "rsa-1"}, issuer.claims()), "'none', which is not"),
    ],
    ids=["expired", "audience", "issuer", "unknown-key", "no-role", "hs256-public-key", "alg-none"],
)
async def test_a_refused_jwt_is_401_naming_why_and_never_echoing_it(
    oidc_api: OidcApi, make_token: Any, reason: str
) -> None:
    token = make_token(oidc_api.issuer)
    response = await oidc_api.http.get("/report", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.headers["www-authenticate"] == 'Bearer realm="trialflow", error="invalid_token"'
    problem = response.json()
    assert reason in problem["detail"] and problem["type"].endswith("/unauthenticated")
    assert token not in response.text and token.split(".")[1] not in response.text


async def test_tokens_that_cannot_be_checked_are_503_not_401(stack: Stack) -> None:
    unreachable = OidcAuthenticator(issuer=f"http://127.0.0.1:{free_port()}/realms/trial", audience=AUDIENCE)
    app = create_app(stack.trial, CombinedAuthenticator(unreachable, TokenAuthenticator(())))
    with running_issuer() as issuer:
        token = issuer.token()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        response = await http.get("/report", headers=bearer(token))
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("/authentication-unavailable")
