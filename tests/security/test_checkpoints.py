"""The signed checkpoint file: appended line by line, each signed (Ed25519) and chained to the one before; a changed,
forged, removed or reordered line is named when it is read."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import load_settings
from security.checkpoints import CheckpointHead, CheckpointLog, CheckpointLogError
from security.configured_keys import checkpoint_log, default_checkpoint_key_file, with_checkpoint_keys
from security.keys import CheckpointKeyring

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
KEYS = CheckpointKeyring.new("c1")


def heads(sequence: int) -> list[CheckpointHead]:
    return [
        CheckpointHead(study_id="TF-002", sequence=2, hash="b" * 64),
        CheckpointHead(study_id="TF-001", sequence=sequence, hash=f"{sequence:x}" * 64),
    ]


@pytest.fixture
def log(tmp_path: Path) -> CheckpointLog:
    checkpoints = CheckpointLog(tmp_path / "worm" / "checkpoints.jsonl", KEYS)
    for number in range(1, 4):
        checkpoints.append(heads(number), AT + timedelta(hours=number))
    return checkpoints


def lines(log: CheckpointLog) -> list[str]:
    return log.path.read_text().splitlines()


def test_checkpoints_are_appended_signed_and_chained(log: CheckpointLog) -> None:
    reading = log.read()
    assert reading.problems == () and reading.checkpoints == 3
    assert reading.last is not None and reading.last.number == 3
    assert reading.last.head_of("TF-001") == CheckpointHead(study_id="TF-001", sequence=3, hash="3" * 64)
    assert [h.study_id for h in reading.last.heads] == ["TF-001", "TF-002"]
    assert oct(log.path.stat().st_mode & 0o777) == oct(0o640)
    witness = log.witness()
    assert witness.name == "checkpoint 3 (2026-03-01T11:00:00+00:00)" and witness.problems == ()


def test_a_line_changed_in_place_fails_its_signature_and_the_next_link(log: CheckpointLog) -> None:
    text = lines(log)
    changed = json.loads(text[1])
    changed["heads"][0]["sequence"] = 1  # a rolled-back head, as someone covering a deletion would write
    text[1] = json.dumps(changed, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(text) + "\n")

    problems = log.read().problems
    assert "checkpoint 2's signature does not match its contents: it was changed or forged" in problems
    assert any("checkpoint 3 does not follow the line before it" in p for p in problems)
    assert log.read().last is not None and log.read().last.number == 3  # still the last genuine one


def test_a_removed_line_and_a_forged_key_are_named(log: CheckpointLog, tmp_path: Path) -> None:
    text = lines(log)
    log.path.write_text("\n".join([text[0], text[2]]) + "\n")
    problems = log.read().problems
    assert any("line 2 of the checkpoint file holds checkpoint 3" in p for p in problems)
    assert any("checkpoint 3 does not follow" in p for p in problems)

    forger = CheckpointLog(log.path, CheckpointKeyring.new("c1"))  # same id, another key
    forger.append(heads(9), AT + timedelta(days=1))
    assert "checkpoint 3's signature does not match its contents: it was changed or forged" in log.read().problems
    unknown = CheckpointLog(log.path, CheckpointKeyring.new("c9"))
    assert any("signed with key 'c1', which is not configured" in p for p in unknown.read().problems)


def test_a_torn_last_line_is_named_and_the_next_checkpoint_starts_on_its_own_line(log: CheckpointLog) -> None:
    with log.path.open("a") as file:
        file.write('{"format": "trialflow.record-')
    assert any("incomplete" in p for p in log.read().problems)
    log.append(heads(5), AT + timedelta(days=2))
    reading = log.read()
    assert reading.last is not None and reading.last.number == 5 and reading.checkpoints == 5
    assert any("line 4 of the checkpoint file is not a checkpoint" in p for p in reading.problems)


def test_without_a_key_nothing_is_written_and_the_witness_says_so(tmp_path: Path) -> None:
    unsigned = CheckpointLog(tmp_path / "checkpoints.jsonl", None)
    with pytest.raises(CheckpointLogError, match="no checkpoint key is configured"):
        unsigned.append(heads(1), AT)
    assert not unsigned.path.exists()
    assert unsigned.witness().notes == ("no checkpoint key is configured: checkpoints are neither written nor checked",)


def test_the_settings_name_the_file_and_make_run_makes_the_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TRIALFLOW_"):
            monkeypatch.delenv(name)
    settings = load_settings(data_dir=tmp_path / "data")
    assert not checkpoint_log(settings).signs  # no key configured, none made
    with_checkpoint_keys(settings)
    first = default_checkpoint_key_file(settings).read_text()
    with_checkpoint_keys(settings)
    assert default_checkpoint_key_file(settings).read_text() == first  # made once, never replaced
    configured = checkpoint_log(settings)
    assert configured.signs and configured.path == tmp_path / "data" / "checkpoints.jsonl"
    elsewhere = load_settings(data_dir=tmp_path / "data", checkpoint_file=tmp_path / "worm" / "log.jsonl")
    assert checkpoint_log(elsewhere).path == tmp_path / "worm" / "log.jsonl"


def test_an_auditor_checks_a_checkpoint_with_the_published_public_key_alone(
    log: CheckpointLog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from security.__main__ import main
    from security.checkpoints import Checkpoint
    from security.keys import write_key_file

    key_file = tmp_path / "checkpoint-keys.json"
    write_key_file(key_file, KEYS)
    assert main(["rotate-checkpoint-key", str(key_file), "--key-id", "c2"]) == 0
    assert main(["checkpoint-public-keys", str(key_file)]) == 0
    published = dict(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("c"))
    assert set(published) >= {"c1", "c2"}
    checkpoint = Checkpoint.model_validate_json(lines(log)[-1])
    verifier = Ed25519PublicKey.from_public_bytes(base64.b64decode(published[checkpoint.key_id]))
    verifier.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_text())  # raises if it does not hold
