"""A certified OpenID provider for the tests: panva/oidc-provider (tests/oidc/provider.mjs) on the machine's Node.js,
installed with `npm ci` from its lock file when missing, started on a free loopback port; and a person's browser,
driven with httpx through the provider's own pages (enter the code, log in, consent, confirm the device)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import httpx

from tests.waiting import poll
from workers.dev_server import free_port

PROVIDER_DIR: Final = Path(__file__).resolve().parent / "oidc"
AUDIENCE: Final = "trialflow-api"
RESOURCE: Final = "urn:trialflow:api"
CLI_CLIENT_ID: Final = "trialflow-cli"


def ensure_installed() -> None:
    """`npm ci` the provider when node_modules is missing; a clear failure (never a skip) without Node.js."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the OpenID provider tests need Node.js and npm on the PATH (node 20 or later)"
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"npm ci in {PROVIDER_DIR} failed:\n{done.stdout}\n{done.stderr}"


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    accounts: dict[str, str]


@asynccontextmanager
async def openid_provider(
    accounts: dict[str, str], access_token_seconds: int = 600, web_redirect_uri: str | None = None
) -> AsyncIterator[OpenIdProvider]:
    """The provider with these accounts (user -> study role) until the block ends; the web client's redirect URI is
    `web_redirect_uri` (the web app's /auth/callback) when given."""
    ensure_installed()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "PORT": str(port),
        "AUDIENCE": AUDIENCE,
        "RESOURCE": RESOURCE,
        "ACCOUNTS": json.dumps(accounts),
        "ACCESS_TOKEN_SECONDS": str(access_token_seconds),
        **({"WEB_REDIRECT_URI": web_redirect_uri} if web_redirect_uri else {}),
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        "provider.mjs",
        cwd=PROVIDER_DIR,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def answers() -> bool | None:
            assert process.returncode is None, "the OpenID provider stopped (run `node tests/oidc/provider.mjs`)"
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    response = await http.get(f"{issuer}/.well-known/openid-configuration")
            except httpx.TransportError:
                return None
            return True if response.status_code == 200 else None

        await poll(answers, "the OpenID provider answers")
        yield OpenIdProvider(issuer, accounts)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


class _Forms(HTMLParser):
    """Every form of a page: its action, method and the values of its inputs (a submit button's too, when named)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "id": attributes.get("id", ""), "fields": {}})
        elif tag == "input" and self.forms and "name" in attributes:
            fields = self.forms[-1]["fields"]
            assert isinstance(fields, dict)
            fields[attributes["name"]] = attributes.get("value", "")


def page_forms(html: str) -> list[dict[str, object]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def confirm_device_in_browser(verification_uri: str, user_code: str, login: str) -> str:
    """What a person does in a browser: enter the code, log in as `login`, consent, confirm the device. Returns the
    last page's text (the provider's success page)."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(verification_uri)
        for _ in range(8):
            forms = page_forms(page.text)
            if not forms:
                return page.text
            form = forms[0]
            fields = dict(form["fields"])  # type: ignore[call-overload]
            if "user_code" in fields and "confirm" not in fields:
                fields["user_code"] = user_code
            if "login" in fields or ("password" in page.text and "login" in page.text.lower()):
                fields.update({"login": login, "password": "any password will do"})
            action = str(form["action"]) or str(page.url)
            page = browser.post(httpx.URL(str(page.url)).join(action), data=fields)
        raise AssertionError(f"the device confirmation did not finish: {page.text[:500]}")
