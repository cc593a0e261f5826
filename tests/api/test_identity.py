"""`GET /me` and `GET /auth/config` (what `trial login` reads), and each static token's last use noted in the record
at most once a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from api import create_app
from domain.roles import Actor, Role
from records import EventStore
from records.schema import token_uses
from records.token_uses import TokenUseLog
from security.oidc import CombinedAuthenticator, OidcAuthenticator
from security.token_file import TokenFile
from tests.api.conftest import USERS, Api, as_role
from tests.api.oidc_issuer import AUDIENCE


async def test_me_is_the_credentials_actor_and_needs_one(api: Api) -> None:
    me = await api.http.get("/me", headers=as_role(Role.NURSE))
    assert me.status_code == 200 and me.json() == {"user_id": USERS[Role.NURSE], "role": "nurse"}
    anonymous = await api.http.get("/me")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


async def test_auth_config_names_no_issuer_with_static_tokens_only(api: Api) -> None:
    answer = await api.http.get("/auth/config")  # no credential needed: it says how to get one
    assert answer.status_code == 200 and answer.json() == {"oidc": None}


async def test_auth_config_names_the_issuer_the_cli_client_and_its_scopes(tmp_path: Path) -> None:
    oidc = OidcAuthenticator(
        issuer="https://login.example.org/realms/trial",
        audience=AUDIENCE,
        cli_client_id="trialflow-cli",
        cli_scopes=("openid", "offline_access"),
    )
    app = create_app(_unused, CombinedAuthenticator(oidc, TokenFile(tmp_path / "tokens.json")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        answer = await http.get("/auth/config")
    assert answer.json() == {
        "oidc": {
            "issuer": "https://login.example.org/realms/trial",
            "client_id": "trialflow-cli",
            "scopes": ["openid", "offline_access"],
        }
    }


async def test_a_tokens_use_is_noted_in_the_record(tmp_path: Path, api: Api) -> None:
    token_file = TokenFile(tmp_path / "tokens.json")
    token, entry = token_file.issue(Actor(user_id="dr.used", role=Role.INVESTIGATOR))
    app = create_app(api.stack.trial, token_file)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        assert (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    with api.stack.store.engine.connect() as connection:
        [row] = connection.execute(select(token_uses).where(token_uses.c.sha256 == entry.sha256)).all()
    assert row.user_id == "dr.used" and datetime.now(UTC) - row.last_used_at < timedelta(minutes=1)


def test_a_use_is_written_at_most_once_a_minute_per_token(tmp_path: Path) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    with EventStore(f"sqlite:///{tmp_path / 'record.db'}") as store:
        store.migrate()
        uses = TokenUseLog(store.engine, clock=lambda: now[0])
        assert uses.used("a" * 64, "dr.li") is True
        now[0] += timedelta(seconds=59)
        assert uses.used("a" * 64, "dr.li") is False  # within the minute: nothing written
        assert uses.used("b" * 64, "nurse.wang") is True  # another token is its own
        # Another API process (its own memory) within the minute: the record says it was written already.
        assert TokenUseLog(store.engine, clock=lambda: now[0]).used("a" * 64, "dr.li") is False
        now[0] += timedelta(seconds=2)
        assert uses.used("a" * 64, "dr.li") is True
        assert uses.last_uses() == {"a" * 64: now[0], "b" * 64: now[0] - timedelta(seconds=2)}


async def _unused() -> object:
    raise AssertionError("GET /auth/config never reaches the trial")
