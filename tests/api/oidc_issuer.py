"""A real OpenID Connect issuer for tests: RSA and EC keys made by `cryptography`, a discovery document and a JWKS
served over HTTP on a free loopback port (stdlib http.server in a thread), and tokens signed with those keys.

The published key set can change while it serves (key rotation), and it counts what was fetched (caching).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "trialflow-api"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/protocol/openid-connect/certs"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(kid: str, key: PrivateKey) -> dict[str, Any]:
    """The public half as a JWK, as an identity provider publishes it."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "ES256"
    return {**jwk, "kid": kid, "use": "sig"}


@dataclass
class Issuer:
    """The issuer at `url`; `published` names the key ids its JWKS shows now."""

    url: str
    realm: str  # the path of the issuer URL: discovery and keys are served under it
    keys: dict[str, PrivateKey]
    published: list[str]
    fetched: Counter[str] = field(default_factory=Counter)
    discovery_issuer: str | None = None  # what the discovery document claims (default: url)

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(kid, self.keys[kid]) for kid in self.published]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A nurse's valid claims, issued now for five minutes; None in `overrides` removes a claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "9f1c2d3e-0000-4000-8000-000000000001",
            "preferred_username": "nurse.wang",
            "trialflow_role": "nurse",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, kid: str = "rsa-1", algorithm: str | None = None, **claims: Any) -> str:
        """Claims (a nurse's unless overridden) signed with the key `kid`, its id in the header."""
        key = self.keys[kid]
        chosen = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(self.claims(**claims), key, algorithm=chosen, headers={"kid": kid})


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.removeprefix(issuer.realm)
            issuer.fetched[path] += 1
            if path == DISCOVERY:
                body: dict[str, Any] = {
                    "issuer": issuer.discovery_issuer or issuer.url,
                    "jwks_uri": issuer.jwks_url,
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }
            elif path == JWKS:
                body = issuer.jwks()
            else:
                self.send_error(404)
                return
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass  # quiet

    return Handler


@contextmanager
def running_issuer(realm: str = "/realms/trial") -> Iterator[Issuer]:
    """An issuer serving on 127.0.0.1 (a free port) until the block ends; keys rsa-1, rsa-2 (unpublished), ec-1."""
    keys: dict[str, PrivateKey] = {"rsa-1": rsa_key(), "rsa-2": rsa_key(), "ec-1": ec_key()}
    issuer = Issuer(url="", realm=realm, keys=keys, published=["rsa-1", "ec-1"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}{realm}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
