"""Signed checkpoints of every patient's chain head, kept outside the trial record's database: a JSON-lines file that
is only ever appended to (opened O_APPEND), each line signed with Ed25519 and chained to the line before by its hash.

Someone who can rewrite the database (and recompute every hash) cannot rewrite a checkpoint without the signing key,
nor drop or change a line without breaking the chain: `trial verify` checks that every patient's record still
extends its last checkpointed head. Production keeps the file on write-once storage (docs/deployment.md).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import AwareDatetime, ValidationError

from domain.canonical_json import canonical_json
from domain.protocol import FrozenModel
from security.keys import CheckpointKeyring

CHECKPOINT_FORMAT: Final = "trialflow.record-checkpoint.v1"
FIRST_PREVIOUS: Final = "0" * 64  # the `previous` of the file's first line
FILE_MODE: Final = 0o640


class CheckpointLogError(Exception):
    """The checkpoint file cannot be written; the message says why (never a key)."""


class CheckpointHead(FrozenModel):
    """One patient's chain head at the checkpoint: their last event's sequence and hash."""

    study_id: str
    sequence: int
    hash: str


class Checkpoint(FrozenModel):
    """One line of the file: what was signed, the key id that signed it, and the signature (base64)."""

    format: str = CHECKPOINT_FORMAT
    number: int  # 1, 2, 3 ... in the file's order
    written_at: AwareDatetime
    previous: str  # SHA-256 (hex) of the line before, FIRST_PREVIOUS for the first
    heads: tuple[CheckpointHead, ...]
    key_id: str
    signature: str = ""

    def signed_text(self) -> bytes:
        """Everything but the signature, as canonical JSON: what the key signs."""
        return canonical_json(self.model_dump(mode="json", exclude={"signature"})).encode("utf-8")

    def line(self) -> str:
        return canonical_json(self.model_dump(mode="json"))

    def head_of(self, study_id: str) -> CheckpointHead | None:
        return next((head for head in self.heads if head.study_id == study_id), None)


class CheckpointWitness(FrozenModel):
    """What the checkpoint file witnesses, for a verification: the last signed checkpoint's heads and its name in
    words; the file's own problems; what could not be checked."""

    heads: tuple[CheckpointHead, ...] = ()
    name: str | None = None  # "checkpoint 12 (2026-03-01T08:00:00+00:00)"
    location: str = ""  # "12 checkpoints in .data/checkpoints.jsonl"
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class CheckpointReading(FrozenModel):
    """The file as read and checked: how many checkpoints, the last one whose signature holds, every problem."""

    path: str
    checkpoints: int
    last: Checkpoint | None = None
    problems: tuple[str, ...] = ()


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def private_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(seed: bytes) -> Ed25519PublicKey:
    return private_key(seed).public_key()


def public_key_text(seed: bytes) -> str:
    """The Ed25519 public key (32 raw bytes, base64) that checks what `seed` signed: safe to publish."""
    raw = public_key(seed).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


class CheckpointLog:
    """The checkpoint file at `path`, signed and checked with `keyring` (None: no checkpoint key is configured, so
    nothing is written, and a file already there cannot be checked)."""

    def __init__(self, path: Path, keyring: CheckpointKeyring | None) -> None:
        self.path = path
        self._keyring = keyring

    @property
    def signs(self) -> bool:
        return self._keyring is not None

    def witness(self, reading: CheckpointReading | None = None) -> CheckpointWitness:
        """The file (`reading`, or read now) as a verification's witness."""
        reading = reading if reading is not None else self.read()
        if self._keyring is None:
            return CheckpointWitness(
                notes=("no checkpoint key is configured: checkpoints are neither written nor checked",)
            )
        if reading.last is None:
            return CheckpointWitness(
                problems=reading.problems,
                notes=(f"no signed checkpoint yet in {reading.path} (one is written at each reconciliation)",),
            )
        last = reading.last
        return CheckpointWitness(
            heads=last.heads,
            name=f"checkpoint {last.number} ({last.written_at.isoformat(timespec='seconds')})",
            location=f"{reading.checkpoints} checkpoint(s) in {reading.path}",
            problems=reading.problems,
        )

    def read(self) -> CheckpointReading:
        """Every line checked: its form, its number, its link to the line before, its signature."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return CheckpointReading(path=str(self.path), checkpoints=0)
        except (OSError, UnicodeDecodeError) as error:
            return CheckpointReading(
                path=str(self.path), checkpoints=0, problems=(f"cannot read the checkpoint file {self.path}: {error}",)
            )
        return self._checked(text)

    def _checked(self, text: str) -> CheckpointReading:
        problems: list[str] = []
        last: Checkpoint | None = None
        previous_hash, count = FIRST_PREVIOUS, 0
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            problems.append(f"line {len(lines)} of the checkpoint file is incomplete (no end of line)")
        for number, line in enumerate(lines, start=1):
            count += 1
            checkpoint, problem = _parsed(line)
            if checkpoint is None:
                problems.append(f"line {number} of the checkpoint file is not a checkpoint ({problem})")
            else:
                problems += self._line_problems(number, checkpoint, previous_hash)
                if self._signature_holds(checkpoint):
                    last = checkpoint
            previous_hash = line_hash(line)
        return CheckpointReading(path=str(self.path), checkpoints=count, last=last, problems=tuple(problems))

    def _line_problems(self, number: int, checkpoint: Checkpoint, previous_hash: str) -> list[str]:
        problems = []
        if checkpoint.number != number:
            problems.append(
                f"line {number} of the checkpoint file holds checkpoint {checkpoint.number}: lines were removed, "
                "inserted or reordered"
            )
        if checkpoint.previous != previous_hash:
            problems.append(
                f"checkpoint {checkpoint.number} does not follow the line before it in the checkpoint file: a line "
                "was removed, inserted or changed"
            )
        if self._keyring is None:
            problems.append(f"checkpoint {checkpoint.number} cannot be checked: no checkpoint key is configured")
        elif not self._keyring.knows(checkpoint.key_id):
            problems.append(
                f"checkpoint {checkpoint.number} is signed with key {checkpoint.key_id!r}, which is not configured"
            )
        elif not self._signature_holds(checkpoint):
            problems.append(
                f"checkpoint {checkpoint.number}'s signature does not match its contents: it was changed or forged"
            )
        return problems

    def _signature_holds(self, checkpoint: Checkpoint) -> bool:
        if self._keyring is None or not self._keyring.knows(checkpoint.key_id):
            return False
        try:
            signature = base64.b64decode(checkpoint.signature, validate=True)
            public_key(self._keyring.key(checkpoint.key_id)).verify(signature, checkpoint.signed_text())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def append(self, heads: Iterable[CheckpointHead], written_at: datetime) -> Checkpoint:
        """Sign the heads with the active key and add them as the next line; the file is locked meanwhile, so two
        writers never take the same number."""
        if self._keyring is None:
            raise CheckpointLogError("no checkpoint key is configured: checkpoints are not written")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as error:
            raise CheckpointLogError(f"cannot open the checkpoint file {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            text = self.path.read_text(encoding="utf-8")
            torn = "\n" if text and not text.endswith("\n") else ""  # a torn last line stays; ours starts anew
            lines = text.split("\n") if text else []
            if lines and not torn:
                lines.pop()  # the empty text after the last end of line
            last_line, count = (lines[-1] if lines else None), len(lines)
            checkpoint = Checkpoint(
                number=count + 1,
                written_at=written_at,
                previous=FIRST_PREVIOUS if last_line is None else line_hash(last_line),
                heads=tuple(sorted(heads, key=lambda head: head.study_id)),
                key_id=self._keyring.active_key_id,
            )
            signature = private_key(self._keyring.active_key).sign(checkpoint.signed_text())
            checkpoint = checkpoint.model_copy(update={"signature": base64.b64encode(signature).decode("ascii")})
            os.write(descriptor, (torn + checkpoint.line() + "\n").encode("utf-8"))
            os.fsync(descriptor)
        except OSError as error:
            raise CheckpointLogError(f"cannot write the checkpoint file {self.path}: {error.strerror}") from None
        finally:
            os.close(descriptor)  # releases the lock
        return checkpoint


def _parsed(line: str) -> tuple[Checkpoint | None, str]:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg}"
    try:
        checkpoint = Checkpoint.model_validate(data)
    except ValidationError as error:
        return None, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
    if checkpoint.format != CHECKPOINT_FORMAT:
        return None, f"unknown format {checkpoint.format[:60]!r}"
    return checkpoint, ""
