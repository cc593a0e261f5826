"""Command seals (security/command_seal.py) and their keys (security/keys.py): a seal verifies only for the very
command, study id, update id and actor it was made for, with a configured key, while it is fresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload

from config.settings import Settings
from domain.free_text import LABEL_REFUSED
from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.journey.state import initial_state
from domain.roles import Actor, Role
from security import PayloadKeyring, encrypted_data_converter, new_key
from security.__main__ import main as security_main
from security.command_seal import SEAL_CLOCK_SKEW, SEAL_MAX_AGE, Seal, SealRefused, seal, verify
from security.configured_keys import default_seal_key_file, seal_keyring, with_seal_keys
from security.keys import KeyringConfigurationError, SealKeyring, rotate_key_file
from tests.facade.journeys import enrollment
from workflows.journey_messages import CarriedState, JourneyInput

KEYS = SealKeyring("s1", {"s1": bytes(range(32))})
OTHER_KEYS = SealKeyring("s1", {"s1": bytes(range(1, 33))})  # the same id, another key: a forger's
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DR_LI = Actor(user_id="dr.li", role=Role.INVESTIGATOR)
CONSENT = cmd.RecordConsent(
    actor=DR_LI, guardian_consent_signed_on=NOW.date(), consent_form_version="ICF v2.1", child_assent_obtained=True
)


def sealed(command: cmd.RecordConsent = CONSENT, keys: SealKeyring = KEYS, **changes: object) -> Payload:
    arguments: dict[str, object] = {"study_id": "TF-001", "idempotency_key": "update-1", "issued_at": NOW}
    arguments.update(changes)
    return seal(keys, command=command, **arguments)  # type: ignore[arg-type]


def check(header: Payload | None, command: cmd.RecordConsent = CONSENT, **changes: object) -> None:
    arguments: dict[str, object] = {"study_id": "TF-001", "idempotency_key": "update-1", "now": NOW}
    arguments.update(changes)
    verify(KEYS, header, command=command, **arguments)  # type: ignore[arg-type]


def test_a_seal_verifies_for_its_own_command() -> None:
    check(sealed())
    check(sealed(), now=NOW + SEAL_MAX_AGE)  # the last moment it is fresh


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"command": CONSENT.model_copy(update={"consent_form_version": "ICF v9"})}, "does not match"),
        (
            {"command": CONSENT.model_copy(update={"actor": Actor(user_id="dr.anyone", role=Role.INVESTIGATOR)})},
            "does not match",
        ),
        (
            {"command": CONSENT.model_copy(update={"actor": DR_LI.model_copy(update={"role": Role.PHYSICIAN})})},
            "does not match",
        ),
        ({"study_id": "TF-002"}, "does not match"),
        ({"idempotency_key": "update-2"}, "does not match"),
        ({"now": NOW + SEAL_MAX_AGE + timedelta(seconds=1)}, "stale"),
        ({"now": NOW - SEAL_CLOCK_SKEW - timedelta(seconds=1)}, "in the future"),
    ],
    ids=["body changed", "actor changed", "role changed", "other study", "other update id", "stale", "future"],
)
def test_a_seal_used_for_anything_else_is_refused(change: dict[str, object], expected: str) -> None:
    with pytest.raises(SealRefused, match=expected):
        check(sealed(), **change)


def test_a_missing_forged_malformed_or_unknown_key_seal_is_refused() -> None:
    with pytest.raises(SealRefused, match="carries no seal"):
        check(None)
    with pytest.raises(SealRefused, match="does not match"):
        check(sealed(keys=OTHER_KEYS))
    with pytest.raises(SealRefused, match="malformed"):
        check(Payload(metadata={"encoding": b"json/plain"}, data=b'{"key_id": "s1"}'))
    unknown = SealKeyring("s9", {"s9": bytes(32)})
    with pytest.raises(SealRefused, match="'s9', which is not configured"):
        check(sealed(keys=unknown))


def test_a_seal_made_before_a_rotation_still_verifies() -> None:
    rotated = KEYS.rotated("s2")
    old_seal = sealed(keys=KEYS)
    verify(rotated, old_seal, command=CONSENT, study_id="TF-001", idempotency_key="update-1", now=NOW)
    assert Seal.model_validate_json(sealed(keys=rotated).data).key_id == "s2"


def test_a_seal_holds_no_patient_data_and_no_key() -> None:
    start = JourneyInput(study_id="TF-001", enrollment=enrollment("TF-001"))
    assert start.enrollment is not None
    header = seal(KEYS, command=start.enrollment, body=start, study_id="TF-001", idempotency_key="w", issued_at=NOW)
    assert set(json.loads(header.data)) == {"key_id", "issued_at", "mac"}
    assert str(start.enrollment.screening.date_of_birth) not in header.data.decode()
    assert bytes(range(32)).hex() not in header.data.decode()


def test_a_starts_protocol_version_is_sealed_with_it() -> None:
    """The version the client put a screening under (amendment 1.1) cannot be changed on the way to the worker."""
    start = JourneyInput(study_id="TF-001", enrollment=enrollment("TF-001"), protocol_version="1.1")
    assert start.enrollment is not None
    header = seal(KEYS, command=start.enrollment, body=start, study_id="TF-001", idempotency_key="w", issued_at=NOW)
    verify(KEYS, header, command=start.enrollment, body=start, study_id="TF-001", idempotency_key="w", now=NOW)
    for changed in ("1.0", None):
        forged = start.model_copy(update={"protocol_version": changed})
        with pytest.raises(SealRefused):
            verify(KEYS, header, command=start.enrollment, body=forged, study_id="TF-001", idempotency_key="w", now=NOW)


def test_a_rescreenings_sealed_start_still_verifies_once_the_state_models_have_grown() -> None:
    """The screen failure's state rides in the start as the JSON the facade sent, and the seal covers that text: a
    journey re-screened before a state field existed still replays on code that has it (re-serializing a sealed
    state model would add the field and break the seal); the text changed on the way is refused."""
    sent_then = json.loads(CarriedState(state=initial_state("TF-001")).model_dump_json())
    del sent_then["state"]["pending_protocol_version"]  # as code before the amendment sent it
    start = JourneyInput(study_id="TF-001", enrollment=enrollment("TF-001"), screen_failure=json.dumps(sent_then))
    assert start.enrollment is not None
    header = seal(KEYS, command=start.enrollment, body=start, study_id="TF-001", idempotency_key="w", issued_at=NOW)

    carried = JourneyInput.model_validate_json(start.model_dump_json())  # as the worker decodes it today
    verify(KEYS, header, command=start.enrollment, body=carried, study_id="TF-001", idempotency_key="w", now=NOW)
    assert carried.starting_from() == CarriedState(state=initial_state("TF-001"))
    sent_then["state"]["phase"] = Phase.FOLLOW_UP.value
    forged = start.model_copy(update={"screen_failure": json.dumps(sent_then)})
    with pytest.raises(SealRefused):
        verify(KEYS, header, command=start.enrollment, body=forged, study_id="TF-001", idempotency_key="w", now=NOW)


@given(
    # Any text a label takes (domain/free_text.py): the model refuses the rest before anything is sealed.
    text=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and not LABEL_REFUSED.intersection(s)),
    other=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s),
)
async def test_a_sealed_command_still_verifies_after_temporal_carries_it_and_no_other_does(
    text: str, other: str
) -> None:
    # The worker verifies the command it decoded from the encrypted payload: the canonical JSON must not change
    # on the way, whatever text staff typed; any other text is refused.
    command = CONSENT.model_copy(update={"consent_form_version": text})
    converter = encrypted_data_converter(PayloadKeyring("k1", {"k1": __import__("base64").b64decode(new_key())}))
    [carried] = await converter.decode(await converter.encode([command]), [cmd.RecordConsent])
    check(sealed(command), command=carried)
    if other != text:
        with pytest.raises(SealRefused):
            check(sealed(command), command=command.model_copy(update={"consent_form_version": other}))


# ---------------------------------------------------------------- the seal keys


def test_seal_keys_come_from_the_settings_or_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert seal_keyring(settings) is None  # none configured: not sealed (development)
    with_seal_keys(settings)
    made = seal_keyring(settings)
    assert made is not None and made.key_ids == ("s1",)
    assert default_seal_key_file(settings).stat().st_mode & 0o777 == 0o600
    with_seal_keys(settings)  # made once, never replaced
    assert seal_keyring(settings).to_document() == made.to_document()  # type: ignore[union-attr]
    document = json.dumps(OTHER_KEYS.to_document())
    assert seal_keyring(Settings(data_dir=tmp_path, seal_keys=document)).to_document() == OTHER_KEYS.to_document()  # type: ignore[union-attr]


def test_bad_seal_keys_name_every_problem_and_no_key(tmp_path: Path) -> None:
    secret = "c2VjcmV0"  # "secret": 6 bytes
    document = {"active": "s3", "keys": {"s1": secret, "bad id!": "AAAA", "s2": 7}}
    with pytest.raises(KeyringConfigurationError) as raised:
        SealKeyring.from_document(document)
    message = str(raised.value)
    assert "keys.s2: the key must be a base64 string" in message
    with pytest.raises(KeyringConfigurationError) as raised:
        SealKeyring.from_document({"active": "s3", "keys": {"s1": secret, "bad id!": "AAAA"}})
    message = str(raised.value)
    assert "'bad id!' is not valid" in message and "keys.s1: the key decodes to 6 bytes" in message
    assert "'s3' is not among the configured keys" in message and secret not in message
    with pytest.raises(KeyringConfigurationError, match="line 1"):
        SealKeyring.from_text("{nope")


def test_python_m_security_rotates_the_seal_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "seal-keys.json"
    assert security_main(["rotate-seal-key", str(path), "--key-id", "s1"]) == 0
    assert security_main(["rotate-seal-key", str(path), "--key-id", "s2"]) == 0
    assert SealKeyring.from_file(path).active_key_id == "s2" and SealKeyring.from_file(path).key_ids == ("s1", "s2")
    assert security_main(["rotate-seal-key", str(path), "--key-id", "s2"]) == 2  # an id in use: the file unchanged
    assert security_main(["check-seal-keys", str(path)]) == 0
    out = capsys.readouterr()
    assert "active key s2; keys: s1, s2" in out.out and "in use" in out.err
    assert rotate_key_file(path, "s3", SealKeyring).key_ids == ("s1", "s2", "s3")
