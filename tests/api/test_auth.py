"""Bearer tokens to actors: only hashes configured, from JSON, TOML or the environment; every problem named; a token
stops working when it expires."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api import create_app
from domain.roles import Actor, Role
from facade import TrialClient
from security.auth import (
    AuthenticationFailed,
    TokenAuthenticator,
    TokenConfigurationError,
    TokenEntry,
    hash_token,
    new_token,
)

NURSE_TOKEN, PHYSICIAN_TOKEN = "nurse-token-123", "physician-token-456"
ENTRIES = [
    {"sha256": hash_token(NURSE_TOKEN), "user_id": "nurse.lee", "role": "nurse"},
    {"sha256": hash_token(PHYSICIAN_TOKEN).upper(), "user_id": "dr.chen", "role": "physician"},
]


def test_a_token_maps_to_its_actor_and_nothing_else_does() -> None:
    auth = TokenAuthenticator.from_text(json.dumps({"tokens": ENTRIES}))
    assert auth.configured == 2
    assert auth.actor_for(NURSE_TOKEN) == Actor(user_id="nurse.lee", role=Role.NURSE)
    assert auth.actor_for(PHYSICIAN_TOKEN) == Actor(user_id="dr.chen", role=Role.PHYSICIAN)
    for wrong in ("", None, NURSE_TOKEN + " ", NURSE_TOKEN.upper(), hash_token(NURSE_TOKEN)):
        assert auth.actor_for(wrong) is None


def test_the_sha256_is_of_the_utf8_token() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert new_token() != new_token() and len(new_token()) >= 40


def test_a_bare_list_and_a_toml_file_work_too(tmp_path: Path) -> None:
    assert TokenAuthenticator.from_text(json.dumps(ENTRIES)).actor_for(NURSE_TOKEN) is not None
    toml = tmp_path / "tokens.toml"
    toml.write_text(f'[[tokens]]\nsha256 = "{hash_token(NURSE_TOKEN)}"\nuser_id = "nurse.lee"\nrole = "nurse"\n')
    assert TokenAuthenticator.from_file(toml).actor_for(NURSE_TOKEN) == Actor(user_id="nurse.lee", role=Role.NURSE)


def test_every_problem_in_the_configuration_is_named() -> None:
    bad = [
        {"sha256": "abc", "user_id": "nurse lee", "role": "nurse"},
        {"sha256": hash_token("x"), "user_id": "timer", "role": "system"},
        {"sha256": hash_token("y"), "user_id": "boss", "role": "dean"},
    ]
    with pytest.raises(TokenConfigurationError) as raised:
        TokenAuthenticator.from_text(json.dumps(bad))
    message = str(raised.value)
    for where in ("tokens.0.sha256", "tokens.0.user_id", "tokens.1.role", "tokens.2.role"):
        assert where in message, message
    assert "no API credential may act as the system" in message
    assert hash_token("x") not in message  # nothing of the input is echoed


def test_one_token_belongs_to_one_user() -> None:
    twice = [ENTRIES[0], {**ENTRIES[0], "user_id": "nurse.kim"}]
    with pytest.raises(TokenConfigurationError, match="configured twice"):
        TokenAuthenticator.from_text(json.dumps(twice))


@pytest.mark.parametrize(("text", "toml", "kind"), [("{not json", False, "JSON"), ("tokens = [", True, "TOML")])
def test_a_document_that_does_not_parse_is_named(text: str, toml: bool, kind: str) -> None:
    with pytest.raises(TokenConfigurationError, match=f"not valid {kind}"):
        TokenAuthenticator.from_text(text, toml=toml)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TokenConfigurationError, match="cannot read the API token file"):
        TokenAuthenticator.from_file(tmp_path / "missing.json")


def test_entries_are_frozen_models() -> None:
    entry = TokenEntry(sha256=hash_token(NURSE_TOKEN), user_id="nurse.lee", role=Role.NURSE)
    assert entry.actor == Actor(user_id="nurse.lee", role=Role.NURSE)


# ---------------------------------------------------------------- expiry


def expiring_entry(token: str, expires_at: datetime | None) -> TokenEntry:
    return TokenEntry(sha256=hash_token(token), user_id="nurse.lee", role=Role.NURSE, expires_at=expires_at)


def test_a_token_works_until_it_expires_then_is_refused_saying_so() -> None:
    expires_at = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    now = [expires_at - timedelta(seconds=1)]
    auth = TokenAuthenticator([expiring_entry("soon-gone", expires_at)], clock=lambda: now[0])
    assert auth.actor_for("soon-gone") == Actor(user_id="nurse.lee", role=Role.NURSE)
    now[0] = expires_at
    with pytest.raises(AuthenticationFailed, match="the token expired on 2027-03-01 08:00 UTC"):
        auth.actor_for("soon-gone")
    assert auth.actor_for("never-issued") is None  # an unknown token is still only unknown


def test_an_entry_written_without_an_expiry_keeps_working() -> None:
    auth = TokenAuthenticator([expiring_entry("by-hand", None)], clock=lambda: datetime(2099, 1, 1, tzinfo=UTC))
    assert auth.actor_for("by-hand") == Actor(user_id="nurse.lee", role=Role.NURSE)


def test_an_expiry_without_a_time_zone_is_refused() -> None:
    document = {"tokens": [{"sha256": "a" * 64, "user_id": "nurse.lee", "role": "nurse", "expires_at": "2027-03-01"}]}
    with pytest.raises(TokenConfigurationError, match=r"tokens\.0\.expires_at"):
        TokenAuthenticator.from_document(document)


async def test_the_api_answers_an_expired_token_with_401_and_the_reason() -> None:
    expired = datetime(2020, 1, 1, tzinfo=UTC)
    app = create_app(unused_trial, TokenAuthenticator([expiring_entry("old-token", expired)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        response = await http.get("/report", headers={"Authorization": "Bearer old-token"})
    assert response.status_code == 401
    assert "the token expired on 2020-01-01 00:00 UTC" in response.json()["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def unused_trial() -> TrialClient:
    raise AssertionError("an unauthenticated request never reaches the trial")
