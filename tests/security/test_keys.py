"""The payload keys from configuration: every bad key id named, no key ever echoed, and rotation of a key file."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from security import KEYS_ENV, KEYS_FILE_ENV, KeyringConfigurationError, PayloadKeyring, keyring_from_environment
from security.__main__ import main
from security.keys import ensure_key_file, load_keyring, new_key, rotate_key_file

GOOD_KEY = base64.b64encode(bytes(range(32))).decode()
SHORT_KEY = base64.b64encode(b"sixteen byte key").decode()


def test_a_new_key_is_32_random_bytes_in_base64() -> None:
    first, second = new_key(), new_key()
    assert len(base64.b64decode(first, validate=True)) == 32
    assert first != second


def test_a_valid_document_gives_the_active_key_and_every_old_one() -> None:
    keyring = PayloadKeyring.from_text(json.dumps({"active": "k2", "keys": {"k1": GOOD_KEY, "k2": new_key()}}))
    assert keyring.active_key_id == "k2"
    assert keyring.key_ids == ("k1", "k2")
    assert keyring.key("k1") == bytes(range(32))


def test_every_problem_is_named_by_key_id_and_no_key_is_echoed() -> None:
    secret_but_short = SHORT_KEY
    document = {
        "active": "k9",
        "keys": {"k1": "not base64 at all!", "k2": secret_but_short, "bad id": GOOD_KEY, "k3": 42},
    }

    with pytest.raises(KeyringConfigurationError) as raised:
        PayloadKeyring.from_document(document)

    lines = str(raised.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "keys.k1: the key is not valid base64",
        "keys.k2: the key decodes to 16 bytes; a key is exactly 32",
        "keys: the key id 'bad id' is not valid: a key id is 1 to 64 letters, digits, '.', '_' or '-'",
        "keys.k3: the key must be a base64 string",
        "active: the key id 'k9' is not among the configured keys (bad id, k1, k2, k3)",
    ]
    assert secret_but_short not in str(raised.value) and GOOD_KEY not in str(raised.value)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"keys": {"k1": GOOD_KEY}}, "active: is required"),
        ({"active": "k1"}, "keys: is required"),
        ({"active": "k1", "keys": {}}, "keys: at least one key is needed"),
        ({"active": "k1", "keys": {"k1": GOOD_KEY}, "passphrase": "x"}, "passphrase: Extra inputs are not permitted"),
        ([GOOD_KEY], "the document must be a JSON object"),
    ],
)
def test_a_malformed_document_is_refused_with_its_problem(document: object, problem: str) -> None:
    with pytest.raises(KeyringConfigurationError, match="invalid payload keys") as raised:
        PayloadKeyring.from_document(document)
    assert problem in str(raised.value)
    assert GOOD_KEY not in str(raised.value)


def test_invalid_json_is_refused_without_quoting_it() -> None:
    with pytest.raises(KeyringConfigurationError, match="not valid JSON") as raised:
        PayloadKeyring.from_text('{"active": "k1", "keys": {"k1": "' + GOOD_KEY + '"')
    assert GOOD_KEY not in str(raised.value)


def test_a_keyring_built_in_code_is_checked_too() -> None:
    with pytest.raises(KeyringConfigurationError) as raised:
        PayloadKeyring("k3", {"k1": b"short", "k2": bytes(32)})
    assert "keys.k1: the key is 5 bytes" in str(raised.value)
    assert "active: the key id 'k3' is not among the configured keys (k1, k2)" in str(raised.value)


def test_rotating_to_an_id_already_in_use_is_refused() -> None:
    keyring = PayloadKeyring("k1", {"k1": bytes(32)})
    with pytest.raises(KeyringConfigurationError, match="'k1' is already in use"):
        keyring.rotated("k1")


def test_the_environment_gives_the_document_or_the_file_or_nothing(tmp_path: Path) -> None:
    document = json.dumps({"active": "k1", "keys": {"k1": GOOD_KEY}})
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"active": "f1", "keys": {"f1": GOOD_KEY}}))

    from_document = keyring_from_environment({KEYS_ENV: document, KEYS_FILE_ENV: str(key_file)})
    from_file = keyring_from_environment({KEYS_FILE_ENV: str(key_file)})

    assert from_document is not None and from_document.active_key_id == "k1"
    assert from_file is not None and from_file.active_key_id == "f1"
    assert keyring_from_environment({}) is None
    loaded = load_keyring(SecretStr(document))
    assert loaded is not None and loaded.active_key_id == "k1"


def test_a_bad_key_file_is_named_with_its_problem(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"active": "k1", "keys": {"k1": SHORT_KEY}}))
    with pytest.raises(KeyringConfigurationError, match=r"keys\.json: invalid payload keys") as raised:
        keyring_from_environment({KEYS_FILE_ENV: str(key_file)})
    assert "keys.k1: the key decodes to 16 bytes" in str(raised.value)

    with pytest.raises(KeyringConfigurationError, match="cannot read the payload key file"):
        keyring_from_environment({KEYS_FILE_ENV: str(tmp_path / "missing.json")})


def test_rotating_a_key_file_adds_an_active_key_and_keeps_the_old_ones(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "payload-keys.json"

    first = ensure_key_file(key_file)
    assert ensure_key_file(key_file).key("k1") == first.key("k1")  # an existing file is kept as it is
    second = rotate_key_file(key_file, "k2")

    reloaded = PayloadKeyring.from_file(key_file)
    assert (first.key_ids, second.key_ids, reloaded.active_key_id) == (("k1",), ("k1", "k2"), "k2")
    assert reloaded.key("k1") == first.key("k1") and reloaded.key("k2") == second.key("k2")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # the keys are readable by their owner only
    assert [path.name for path in key_file.parent.iterdir()] == ["payload-keys.json"]


def test_the_key_command_rotates_and_checks_without_printing_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "payload-keys.json"

    assert main(["rotate-key", str(key_file), "--key-id", "2026-q1"]) == 0
    assert main(["rotate-key", str(key_file), "--key-id", "2026-q2"]) == 0
    assert main(["check-keys", str(key_file)]) == 0
    assert main(["rotate-key", str(key_file), "--key-id", "2026-q2"]) == 2

    output = capsys.readouterr()
    assert "active key 2026-q2; keys: 2026-q1, 2026-q2" in output.out
    assert "'2026-q2' is already in use" in output.err
    for key in json.loads(key_file.read_text())["keys"].values():
        assert key not in output.out + output.err
