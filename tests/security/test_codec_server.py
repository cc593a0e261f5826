"""The codec server over HTTP: Temporal's /encode and /decode protocol, bearer tokens, PHI-reading roles only,
CORS for the configured Web UI origins, and an audit line per request that never holds a payload's content.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import structlog
from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, Payloads

from api.codec_server import (
    DEFAULT_UI_ORIGINS,
    PHI_READER_ROLES,
    CodecServerSettings,
    create_codec_app,
    main,
)
from domain.roles import Role
from observability.logging import configure_logging
from security import KEYS_ENV, REFUSED_ENCODING, EncryptionCodec, PayloadKeyring
from security.auth import TokenAuthenticator, TokenEntry, hash_token
from security.compression import CompressionCodec

UI_ORIGIN = "https://temporal-ui.hospital.example"
MARKER = "Grace Hopper, MRN 4417"
KEYRING = PayloadKeyring("k2", {"k1": bytes(range(32)), "k2": bytes(range(1, 33))})
TOKENS: dict[Role, str] = {role: f"token-of-the-{role.value}" for role in Role if role is not Role.SYSTEM}


def authenticator() -> TokenAuthenticator:
    return TokenAuthenticator(
        [
            TokenEntry(sha256=hash_token(token), user_id=f"{role.value}.codec", role=role)
            for role, token in TOKENS.items()
        ]
    )


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}", "X-Namespace": "default"}


def as_json(*payloads: Payload) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def from_json(document: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(document, Payloads()).payloads)


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"note": MARKER}).encode())


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The audit lines, as JSON; the process's logging is put back afterwards."""
    root = logging.getLogger()
    handlers, level, config = list(root.handlers), root.level, structlog.get_config()
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def audit(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("logger") == "api.codec_server"]


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(KEYRING, authenticator(), cors_origins=[UI_ORIGIN])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec.test") as client:
        yield client


async def test_encode_then_decode_round_trips_under_the_active_key(
    http: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    encoded = await http.post("/encode", json=as_json(PLAIN, PLAIN), headers=bearer(Role.INVESTIGATOR))
    assert encoded.status_code == 200
    encrypted = from_json(encoded.json())
    assert [p.metadata["encryption-key-id"] for p in encrypted] == [b"k2", b"k2"]
    assert MARKER.encode() not in b"".join(p.SerializeToString() for p in encrypted)

    decoded = await http.post("/decode", json=encoded.json(), headers=bearer(Role.INVESTIGATOR))
    assert decoded.status_code == 200
    assert from_json(decoded.json()) == [PLAIN, PLAIN]

    lines = audit(log_lines)
    assert [(line["event"], line["user_id"], line["role"], line["payloads"]) for line in lines] == [
        ("codec_encode", "investigator.codec", "investigator", 2),
        ("codec_decode", "investigator.codec", "investigator", 2),
    ]
    assert lines[1]["key_ids"] == ["k2"] and lines[1]["namespace"] == "default"
    assert MARKER not in log_lines.getvalue()


async def test_a_large_payload_is_compressed_before_it_is_encrypted_and_decoded_whole(http: httpx.AsyncClient) -> None:
    large = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"notes": [MARKER] * 400}).encode())
    [from_a_worker] = await CompressionCodec(then=EncryptionCodec(KEYRING)).encode([large])

    decoded = await http.post("/decode", json=as_json(from_a_worker), headers=bearer(Role.INVESTIGATOR))
    encoded = await http.post("/encode", json=as_json(large), headers=bearer(Role.INVESTIGATOR))

    assert from_json(decoded.json()) == [large]  # what the Web UI shows: the value, not zlib's bytes
    [from_the_ui] = from_json(encoded.json())
    assert len(from_the_ui.data) < len(large.data) / 4  # compressed as the workers' converter does
    assert await CompressionCodec(then=EncryptionCodec(KEYRING)).decode([from_the_ui]) == [large]


async def test_payloads_under_an_old_key_decode_and_payloads_in_clear_never_look_decoded(
    http: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    [under_k1] = await EncryptionCodec(PayloadKeyring("k1", {"k1": KEYRING.key("k1")})).encode([PLAIN])

    decoded = await http.post("/decode", json=as_json(under_k1, PLAIN), headers=bearer(Role.SUPERVISOR))

    assert decoded.status_code == 200
    old, in_clear = from_json(decoded.json())
    assert old == PLAIN
    # Sent in clear by someone who reached Temporal: shown as refused, its bytes opaque, not as the trial's data.
    assert in_clear.metadata["encoding"] == REFUSED_ENCODING and in_clear.data == PLAIN.SerializeToString()
    [line] = audit(log_lines)
    assert line["event"] == "codec_decode" and line["level"] == "warning" and line["unencrypted"] == 1


async def test_only_the_last_path_segment_names_the_operation(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/default/encode", json=as_json(PLAIN), headers=bearer(Role.NURSE))
    decoded = await http.post("/codec/default/decode", json=encoded.json(), headers=bearer(Role.NURSE))
    assert (encoded.status_code, decoded.status_code) == (200, 200)
    assert from_json(decoded.json()) == [PLAIN]


async def test_an_empty_list_answers_an_empty_list(http: httpx.AsyncClient) -> None:
    decoded = await http.post("/decode", json={"payloads": []}, headers=bearer(Role.PHYSICIAN))
    assert decoded.json() == {"payloads": []}


async def test_undecodable_payloads_are_refused_naming_each_and_its_key_id(
    http: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    [good] = await EncryptionCodec(KEYRING).encode([PLAIN])
    [unknown] = await EncryptionCodec(PayloadKeyring("k0", {"k0": bytes(32)})).encode([PLAIN])
    tampered = Payload(metadata=good.metadata, data=good.data[:-1] + bytes([good.data[-1] ^ 1]))

    answer = await http.post("/decode", json=as_json(good, unknown, tampered), headers=bearer(Role.INVESTIGATOR))

    assert answer.status_code == 400
    reasons = answer.json()["reasons"]
    assert len(reasons) == 2
    assert reasons[0].startswith("payloads[1]: ") and "'k0'" in reasons[0] and "not configured" in reasons[0]
    assert reasons[1].startswith("payloads[2]: ") and "'k2'" in reasons[1] and "failed authentication" in reasons[1]
    assert MARKER not in answer.text
    [line] = audit(log_lines)
    assert line["event"] == "codec_decode_refused" and line["key_ids"] == ["k0", "k2"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"payloads": "nope"}', b'{"payloads": [{"metadata": "nope"}]}', b"\xff\xfe"],
    ids=["not JSON", "payloads not a list", "metadata not a map", "not UTF-8"],
)
async def test_a_body_that_is_not_payloads_is_a_400_that_quotes_nothing(http: httpx.AsyncClient, body: bytes) -> None:
    answer = await http.post("/decode", content=body, headers=bearer(Role.INVESTIGATOR))
    assert answer.status_code == 400
    assert "protobuf JSON" in answer.json()["detail"]
    assert "nope" not in answer.text


async def test_without_a_recognised_token_it_is_401(http: httpx.AsyncClient, log_lines: io.StringIO) -> None:
    missing = await http.post("/decode", json=as_json(PLAIN))
    unknown = await http.post("/decode", json=as_json(PLAIN), headers={"Authorization": "Bearer guessed"})

    assert (missing.status_code, unknown.status_code) == (401, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "no bearer token" in missing.json()["detail"] and "not recognised" in unknown.json()["detail"]
    assert [line["reason"] for line in audit(log_lines)] == ["unauthenticated", "unauthenticated"]


@pytest.mark.parametrize("role", sorted(set(TOKENS) - PHI_READER_ROLES))
async def test_a_role_that_may_not_read_patient_data_is_403_both_ways(
    http: httpx.AsyncClient, log_lines: io.StringIO, role: Role
) -> None:
    for operation in ("decode", "encode"):
        answer = await http.post(f"/{operation}", json=as_json(PLAIN), headers=bearer(role))
        assert answer.status_code == 403
        assert role.value.replace("_", " ") in answer.json()["detail"]
    assert [(line["event"], line["role"]) for line in audit(log_lines)] == [("codec_refused", role.value)] * 2


@pytest.mark.parametrize("role", sorted(PHI_READER_ROLES))
async def test_the_care_team_and_supervisors_may_decode(http: httpx.AsyncClient, role: Role) -> None:
    answer = await http.post("/decode", json=as_json(PLAIN), headers=bearer(role))
    assert answer.status_code == 200


def test_the_service_units_are_not_phi_readers() -> None:
    assert {Role.APHERESIS_UNIT, Role.CELL_LAB, Role.LABORATORY, Role.PHARMACY, Role.SYSTEM}.isdisjoint(
        PHI_READER_ROLES
    )


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }


async def test_a_preflight_from_the_configured_ui_origin_is_allowed(http: httpx.AsyncClient) -> None:
    answer = await http.options("/decode", headers=preflight(UI_ORIGIN))

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {h.strip() for h in allowed.split(",")}


async def test_a_preflight_from_another_origin_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.options("/decode", headers=preflight("https://evil.example"))

    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


async def test_a_refusal_still_reaches_the_ui_with_its_cors_header(http: httpx.AsyncClient) -> None:
    answer = await http.post("/decode", json=as_json(PLAIN), headers={"Origin": UI_ORIGIN})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN


def test_cors_origins_come_from_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CodecServerSettings().cors_origins == DEFAULT_UI_ORIGINS
    monkeypatch.setenv("TRIALFLOW_CODEC_CORS_ORIGINS", f"{UI_ORIGIN}, http://localhost:8233")
    assert CodecServerSettings().cors_origins == (UI_ORIGIN, "http://localhost:8233")

    monkeypatch.setenv("TRIALFLOW_CODEC_CORS_ORIGINS", "https://ui.example/,ftp://x,*")
    with pytest.raises(ValidationError) as raised:
        CodecServerSettings()
    message = str(raised.value)
    assert "'https://ui.example/'" in message and "'ftp://x'" in message and "'*'" in message

    with pytest.raises(ValueError, match=re.escape("'https://ui.example/'")):
        create_codec_app(KEYRING, authenticator(), cors_origins=["https://ui.example/"])


def test_the_server_does_not_start_without_keys_naming_every_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", str(tmp_path))  # where the API's token file would be
    short_key = base64.b64encode(b"too short").decode()
    monkeypatch.setenv(KEYS_ENV, json.dumps({"active": "k1", "keys": {"k1": short_key}}))
    monkeypatch.setenv("TRIALFLOW_CODEC_CORS_ORIGINS", "https://ui.example/")

    assert main(["--port", "0"]) == 2

    error = capsys.readouterr().err
    assert "keys.k1: the key decodes to 9 bytes" in error
    assert "TRIALFLOW_CODEC_CORS_ORIGINS" in error and "'https://ui.example/'" in error
    assert "TRIALFLOW_CODEC_PORT" in error  # 0 is no port to serve on
    assert short_key not in error

    monkeypatch.delenv(KEYS_ENV)
    assert main([]) == 2
    assert "no payload keys are configured" in capsys.readouterr().err
