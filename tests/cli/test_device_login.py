"""`trial login` with the device authorization grant (RFC 8628) against a real, certified OpenID provider
(oidc-provider on Node.js), then `trial record` and `trial status` under the signed-in user; the access token is
renewed with the refresh token once it has expired. The polling rules (interval, slow_down, expired_token) are
checked against scripted token-endpoint answers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from cli.credentials import CredentialStore
from cli.device_login import DeviceCode, ProviderEndpoints, SignInFailed, poll_for_tokens
from security.oidc import CombinedAuthenticator, OidcAuthenticator
from security.token_file import TokenFile
from tests.cli.trial_cli import SIGNING_PIN, TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.facade.journeys import enrollment
from tests.oidc_provider import AUDIENCE, CLI_CLIENT_ID, OpenIdProvider, confirm_device_in_browser, openid_provider
from tests.servers import Stack

ACCOUNTS = {"dr.device": "investigator", "nurse.device": "nurse"}


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def provider() -> AsyncIterator[OpenIdProvider]:
    async with openid_provider(ACCOUNTS) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(
    stack: Stack, quiet_worker: None, provider: OpenIdProvider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TrialCli]:
    """The API configured with the provider as its issuer (as TRIALFLOW_OIDC_ISSUER would), beside static tokens."""
    directory = tmp_path_factory.mktemp("device-login")
    oidc = OidcAuthenticator(
        issuer=provider.issuer,
        audience=AUDIENCE,
        cli_client_id=CLI_CLIENT_ID,
        cli_scopes=("openid", "profile", "offline_access"),
    )
    auth = CombinedAuthenticator(oidc, TokenFile(directory / "api-tokens.json"))
    async with trial_cli_over_api(stack, directory, authenticator=auth) as started:
        yield started


async def signed_in_through_the_browser(cli: TrialCli, login: str, folder: Path) -> str:
    """`trial login` as a process; a person confirms the code it prints in a browser; its output."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("trial")),
        "login",
        "--profile",
        login,
        cwd=folder,
        env={"PATH": os.environ["PATH"], "HOME": str(folder), **cli.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    shown = ""
    while (found := re.search(r"open (\S+) in a browser and enter the code (\S+)", shown)) is None:
        line = await process.stdout.readline()
        assert line, f"trial login ended without showing a code: {shown}"
        shown += line.decode()
    page = await asyncio.to_thread(confirm_device_in_browser, found.group(1), found.group(2), login)
    assert "Sign-in Success" in page or "success" in page.lower(), page[:500]
    rest, _ = await process.communicate()
    assert process.returncode == 0, shown + rest.decode()
    return shown + rest.decode()


async def test_device_login_then_record_and_read_under_the_signed_in_user(
    cli: TrialCli, stack: Stack, provider: OpenIdProvider, tmp_path: Path
) -> None:
    sign_in = await cli("login", "--help")
    assert sign_in.exit_code == 0
    output = await signed_in_through_the_browser(cli, "dr.device", tmp_path)
    assert "Signed in to" in output and "as dr.device (investigator) (profile dr.device)" in output

    await stack.trial.enroll(enrollment("DV-1001"))
    doctor = TrialCli({**cli.env, "TRIALFLOW_PROFILE": "dr.device"})
    pin = await doctor("signing-pin", "--stdin", stdin=SIGNING_PIN + "\n")
    assert pin.exit_code == 0, pin.output
    recorded = await doctor("record", "DV-1001", "confirm-eligibility", "--json", "--pin-stdin", stdin=SIGNING_PIN)
    assert recorded.exit_code == 0, recorded.output
    [event] = json.loads(recorded.stdout)["events"]
    assert event["actor"] == {"user_id": "dr.device", "role": "investigator"}
    # Signed under the printed name the provider's `name` claim gives.
    assert event["signature"]["printed_name"] == "Device (dr.device)", event
    status = await doctor("status", "DV-1001", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["study_id"] == "DV-1001", status.output

    # The access token has expired: the refresh token gets a new one, without signing in again.
    store = CredentialStore(Path(cli.env["TRIALFLOW_CONFIG_DIR"]))
    url = cli.env["TRIALFLOW_API_URL"]
    kept = store.get(url, "dr.device")
    assert kept is not None and kept.kind == "oidc" and kept.refresh_token and kept.issuer == provider.issuer
    store.put(url, "dr.device", kept.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)}))
    again = await doctor("whoami", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout) == {"user_id": "dr.device", "role": "investigator"}
    renewed = store.get(url, "dr.device")
    assert renewed is not None and renewed.access_token != kept.access_token
    assert renewed.expires_at is not None and renewed.expires_at > datetime.now(UTC)


async def test_a_nurse_signed_in_at_the_provider_is_refused_what_a_nurse_may_not_do(
    cli: TrialCli, stack: Stack, tmp_path: Path
) -> None:
    await signed_in_through_the_browser(cli, "nurse.device", tmp_path)
    await stack.trial.enroll(enrollment("DV-1002"))
    nurse = TrialCli({**cli.env, "TRIALFLOW_PROFILE": "nurse.device"})
    refused = await nurse("record", "DV-1002", "confirm-eligibility")
    assert refused.exit_code == 1 and "a nurse cannot confirm eligibility" in refused.stderr, refused.output


# ---------------------------------------------------------------- the polling rules (RFC 8628 §3.4-3.5)


ENDPOINTS = ProviderEndpoints("https://id.example", "https://id.example/device", "https://id.example/token")


def scripted(*answers: tuple[int, dict[str, object]]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose token endpoint gives `answers` in turn (httpx's own mock transport)."""
    sent: list[httpx.Request] = []
    remaining = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        status, body = remaining.pop(0)
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(answer)), sent


def device_code(interval: int = 5, expires_in: int = 600) -> DeviceCode:
    return DeviceCode(
        "ABCD-EFGH",
        "https://id.example/device",
        None,
        "dc",
        interval,
        datetime.now(UTC) + timedelta(seconds=expires_in),
    )


def test_pending_waits_the_interval_and_slow_down_adds_five_seconds_for_good() -> None:
    http, sent = scripted(
        (400, {"error": "authorization_pending"}),
        (400, {"error": "slow_down"}),
        (400, {"error": "authorization_pending"}),
        (200, {"access_token": "at", "expires_in": 300, "refresh_token": "rt", "token_type": "Bearer"}),
    )
    waits: list[float] = []
    tokens = poll_for_tokens(http, ENDPOINTS, "trialflow-cli", device_code(interval=3), sleep=waits.append)
    assert waits == [3, 3, 8, 8]
    assert (tokens.access_token, tokens.refresh_token) == ("at", "rt")
    assert all(
        dict(httpx.QueryParams(request.content.decode()))
        == {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": "dc",
            "client_id": "trialflow-cli",
        }
        for request in sent
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [("expired_token", "the code expired before it was confirmed"), ("access_denied", "refused in the browser")],
)
def test_an_expired_or_refused_code_ends_the_sign_in(error: str, said: str) -> None:
    http, _ = scripted((400, {"error": "authorization_pending"}), (400, {"error": error}))
    with pytest.raises(SignInFailed, match=said):
        poll_for_tokens(http, ENDPOINTS, "trialflow-cli", device_code(), sleep=lambda _: None)


def test_the_code_is_not_polled_past_its_expiry() -> None:
    http, sent = scripted()
    with pytest.raises(SignInFailed, match="expired"):
        poll_for_tokens(http, ENDPOINTS, "trialflow-cli", device_code(expires_in=-1), sleep=lambda _: None)
    assert sent == []
