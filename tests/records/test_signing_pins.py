"""Signing PINs: argon2id hashes, the rules a new PIN meets, and the lockout counted in the trial record (wrong
PINs in a row lock signing for the protocol's minutes; an administrator's reset clears PIN and lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import URL

from domain.protocol import PROTOCOL_V1
from records import EventStore
from records.signing_pins import SigningPinStore, reset_signing_pin
from security.signing_pins import hash_pin, pin_matches, pin_problems

RULES = PROTOCOL_V1.signatures
LOCKOUT = timedelta(minutes=RULES.lockout_minutes)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_pin_is_kept_as_a_salted_argon2id_hash_and_checked_against_it() -> None:
    first, second = hash_pin("493817"), hash_pin("493817")
    assert first.startswith("$argon2id$") and first != second  # salted
    assert pin_matches(first, "493817") and pin_matches(second, "493817")
    assert not pin_matches(first, "493818")
    assert not pin_matches("not a hash", "493817")


def test_every_problem_of_a_new_pin_is_named() -> None:
    assert pin_problems("4938-17") == []
    assert pin_problems("abcdef") == []
    assert pin_problems("1111") == [
        "the PIN must have at least 6 digits or characters (it has 4)",
        "the PIN must not be one character repeated",
    ]
    assert pin_problems(" 493817") == ["the PIN must not begin or end with a space"]
    assert pin_problems("9" * 200) == [
        "the PIN must have at most 128 characters",
        "the PIN must not be one character repeated",
    ]


def test_three_wrong_pins_in_a_row_lock_for_15_minutes_and_a_right_one_starts_the_count_again(
    database_url: str | URL,
) -> None:
    store = EventStore(database_url)
    store.migrate()
    try:
        pins = SigningPinStore(store.engine)
        pins.set_pin("dr.li", hash_pin("493817"), T0)
        assert RULES.max_failed_attempts == 3 and RULES.lockout_minutes == 15  # the protocol's numbers

        pins.record_failure("dr.li", T0, RULES.max_failed_attempts, LOCKOUT)
        pins.record_success("dr.li")  # a right PIN in between: the count starts again
        for minute in range(2):
            after = pins.record_failure("dr.li", T0 + timedelta(minutes=minute), RULES.max_failed_attempts, LOCKOUT)
            assert not after.locked_at(T0 + timedelta(minutes=minute)) and after.failed_attempts == minute + 1
        third = T0 + timedelta(minutes=2)
        locked = pins.record_failure("dr.li", third, RULES.max_failed_attempts, LOCKOUT)
        assert locked.locked_until == third + LOCKOUT and locked.failed_attempts == 0

        stored = pins.find("dr.li")
        assert stored is not None
        assert stored.locked_at(third + LOCKOUT - timedelta(seconds=1))
        assert not stored.locked_at(third + LOCKOUT)

        assert reset_signing_pin(store.engine, "dr.li")
        reset = pins.find("dr.li")
        assert reset is not None and reset.pin_hash is None and reset.locked_until is None
        assert not reset_signing_pin(store.engine, "nobody.here")
    finally:
        store.close()
