"""The token file: tokens made and revoked while the API runs take effect at once; a broken file fails closed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from config.settings import load_settings
from domain.roles import Actor, Role
from security.auth import TokenAuthenticator, TokenConfigurationError, hash_token
from security.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile, authenticator_for

NURSE = Actor(user_id="nurse.wang", role=Role.NURSE)
INVESTIGATOR = Actor(user_id="dr.li", role=Role.INVESTIGATOR)


def _touch_later(path: Path) -> None:
    """Make the next change visible even on a file system with coarse modification times."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_a_new_token_identifies_its_user_and_only_its_hash_is_kept(tmp_path: Path) -> None:
    token_file = TokenFile(tmp_path / "tokens.json")
    token = token_file.add(NURSE)
    assert token_file.actor_for(token) == NURSE
    text = token_file.path.read_text()
    assert token not in text and hash_token(token) in text
    assert stat.S_IMODE(token_file.path.stat().st_mode) == 0o600


def test_the_api_sees_tokens_added_and_revoked_without_a_restart(tmp_path: Path) -> None:
    serving = TokenFile(tmp_path / "tokens.json")  # what the API holds
    managing = TokenFile(tmp_path / "tokens.json")  # what `trial admin token` uses
    assert serving.configured == 0 and serving.actor_for("anything") is None
    nurse_token = managing.add(NURSE)
    assert serving.actor_for(nurse_token) == NURSE
    investigator_token = managing.add(INVESTIGATOR)
    _touch_later(managing.path)
    assert serving.actor_for(investigator_token) == INVESTIGATOR
    assert managing.revoke("nurse.wang") == 1
    _touch_later(managing.path)
    assert serving.actor_for(nurse_token) is None
    assert serving.actor_for(investigator_token) == INVESTIGATOR
    assert managing.revoke("nobody") == 0


def test_a_broken_file_refuses_every_token(tmp_path: Path) -> None:
    token_file = TokenFile(tmp_path / "tokens.json")
    token = token_file.add(NURSE)
    assert token_file.actor_for(token) == NURSE
    token_file.path.write_text("{broken")
    _touch_later(token_file.path)
    assert token_file.actor_for(token) is None
    with pytest.raises(TokenConfigurationError, match="not valid JSON"):
        token_file.entries()


def test_the_settings_choose_the_document_or_the_token_file(tmp_path: Path) -> None:
    document = json.dumps({"tokens": [{"sha256": hash_token("t"), "user_id": "dr.li", "role": "investigator"}]})
    from_document = authenticator_for(load_settings(api_tokens=document, data_dir=tmp_path))
    assert isinstance(from_document, TokenAuthenticator) and from_document.actor_for("t") == INVESTIGATOR

    default = authenticator_for(load_settings(data_dir=tmp_path))
    assert isinstance(default, TokenFile) and default.path == tmp_path / DEFAULT_TOKEN_FILE_NAME

    named = authenticator_for(load_settings(data_dir=tmp_path, api_tokens_file=tmp_path / "elsewhere.json"))
    assert isinstance(named, TokenFile) and named.path == tmp_path / "elsewhere.json"


def test_a_broken_configuration_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / DEFAULT_TOKEN_FILE_NAME).write_text(json.dumps({"tokens": [{"sha256": "x", "role": "dean"}]}))
    with pytest.raises(TokenConfigurationError) as refused:
        authenticator_for(load_settings(data_dir=tmp_path))
    for where in ("tokens.0.sha256", "tokens.0.user_id", "tokens.0.role"):
        assert where in str(refused.value)
