"""`trial login`, `whoami`, `logout` with personal tokens against a real API in front of the stack: the credential
is checked before it is kept, kept owner-only, per API and profile; a token revoked or expired is refused at the
next command; the API notes each token's last use, which `trial admin token list` shows."""

from __future__ import annotations

import getpass
import json
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio

from cli.api_client import REFUSED_EXIT_CODE
from cli.credentials import CREDENTIALS_FILE
from domain.roles import Role
from security import ensure_key_file
from tests.cli.trial_cli import TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.servers import Stack


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(stack: Stack, quiet_worker: None) -> AsyncIterator[TrialCli]:
    """The API's token file and the record are the stack's data directory's, as under `make run`, so `trial admin`
    (given the key file there) manages the tokens the API reads."""
    ensure_key_file(stack.data_dir / "payload-keys.json")
    async with trial_cli_over_api(stack, stack.data_dir) as anonymous:
        yield anonymous


def admin_env(stack: Stack) -> dict[str, str]:
    return {"TRIALFLOW_DATA_DIR": str(stack.data_dir), "TRIALFLOW_LOG_FORMAT": "json"}


async def test_login_checks_the_token_then_keeps_it_owner_only(cli: TrialCli) -> None:
    refused = await cli("login", "--profile", "mallory", "--token-stdin", stdin="not-a-token\n")
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "did not accept your credential (the bearer token is not recognised)" in refused.stderr
    assert cli.config_dir is not None and not (cli.config_dir / CREDENTIALS_FILE).exists()  # nothing kept

    token = cli.token("nurse.lin", Role.NURSE)
    signed_in = await cli("login", "--profile", "nurse.lin", "--token-stdin", stdin=token + "\n")
    assert signed_in.exit_code == 0, signed_in.output
    assert "as nurse.lin (nurse) (profile nurse.lin)" in signed_in.stdout
    kept = cli.config_dir / CREDENTIALS_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    assert token in kept.read_text()  # the credential itself, for this API and profile
    assert set(json.loads(kept.read_text())[cli.env["TRIALFLOW_API_URL"]]) >= {"nurse.lin"}

    who = await cli("whoami", "--json", "--profile", "nurse.lin")
    assert who.exit_code == 0 and json.loads(who.stdout) == {"user_id": "nurse.lin", "role": "nurse"}
    typed = cli.token("dr.hid", Role.INVESTIGATOR)
    hidden = await cli("login", "--profile", "hidden", stdin=typed + "\n")
    assert hidden.exit_code == 0 and "as dr.hid (investigator)" in hidden.stdout  # asked for at the prompt
    assert "(not shown)" in hidden.stdout and typed not in hidden.output  # never echoed

    out = await cli("logout", "--profile", "nurse.lin")
    assert out.exit_code == 0 and "Signed out of" in out.stdout
    after = await cli("whoami", "--profile", "nurse.lin")
    assert after.exit_code == REFUSED_EXIT_CODE and "run `trial login --profile nurse.lin` first" in after.stderr
    assert (await cli("whoami", "--profile", "hidden")).exit_code == 0  # the other profile stays


async def test_a_revoked_token_is_refused_at_the_next_command(cli: TrialCli, stack: Stack) -> None:
    nurse = await cli.signed_in("nurse.rev", Role.NURSE)
    assert (await nurse("report")).exit_code == 0
    revoked = await cli("admin", "token", "revoke", "--user", "nurse.rev", env=admin_env(stack))
    assert revoked.exit_code == 0, revoked.output
    refused = await nurse("report")
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "did not accept your credential (the bearer token is not recognised)" in refused.stderr
    assert "run `trial login --profile nurse.rev` again" in refused.stderr


async def test_an_expired_token_is_refused_saying_when_it_expired(cli: TrialCli) -> None:
    assert cli.token_file is not None
    token = cli.token("nurse.old", Role.NURSE, lifetime=timedelta(days=1))
    login = await cli("login", "--profile", "nurse.old", "--token-stdin", stdin=token + "\n")
    assert login.exit_code == 0, login.output
    # The token file as it will be once the day has passed: the same entry, its expiry behind it.
    document = json.loads(cli.token_file.path.read_text())
    for entry in document["tokens"]:
        if entry["user_id"] == "nurse.old":
            entry["expires_at"] = "2020-01-01T00:00:00Z"
    cli.token_file.path.write_text(json.dumps(document))
    refused = await cli("status", "TF-0001", "--profile", "nurse.old")
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "the token expired on 2020-01-01 00:00 UTC" in refused.stderr


async def test_the_last_use_of_each_token_is_shown(cli: TrialCli, stack: Stack) -> None:
    before = datetime.now().astimezone()
    unused = cli.token("dr.idle", Role.INVESTIGATOR)
    assert unused
    user = await cli.signed_in("dr.busy", Role.INVESTIGATOR)
    assert (await user("report")).exit_code == 0
    listed = await cli("admin", "token", "list", "--json", env=admin_env(stack))
    assert listed.exit_code == 0, listed.output
    holders = {h["user_id"]: h for h in json.loads(listed.stdout)["tokens"]}
    assert holders["dr.idle"]["last_used_at"] is None
    assert datetime.fromisoformat(holders["dr.busy"]["last_used_at"]) >= before.replace(second=0, microsecond=0)
    table = await cli("admin", "token", "list", env=admin_env(stack))
    [busy] = [line for line in table.stdout.splitlines() if "dr.busy" in line]
    [idle] = [line for line in table.stdout.splitlines() if "dr.idle" in line]
    assert "Last used" in table.stdout and busy.rstrip(" │").endswith("UTC") and "never" in idle
    assert getpass.getuser() in table.stderr  # the audit line of the listing
