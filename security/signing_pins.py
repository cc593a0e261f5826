"""Signing PINs: the rules a new PIN must meet, and its argon2id hash (argon2-cffi's defaults, RFC 9106's
second recommended option). A PIN re-authenticates its owner at the moment of an electronic signature."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PIN_MIN_LENGTH: Final = 6
PIN_MAX_LENGTH: Final = 128  # bounds the hashing work one request can ask for

_hasher = PasswordHasher()  # argon2id


def pin_problems(pin: str) -> list[str]:
    """Every reason `pin` cannot be a signing PIN; empty when it can."""
    problems = []
    if len(pin) < PIN_MIN_LENGTH:
        problems.append(f"the PIN must have at least {PIN_MIN_LENGTH} digits or characters (it has {len(pin)})")
    if len(pin) > PIN_MAX_LENGTH:
        problems.append(f"the PIN must have at most {PIN_MAX_LENGTH} characters")
    if pin and len(set(pin)) == 1:
        problems.append("the PIN must not be one character repeated")
    if pin != pin.strip():
        problems.append("the PIN must not begin or end with a space")
    return problems


def hash_pin(pin: str) -> str:
    """The PIN's argon2id hash, salted, in the PHC string format: what the record keeps. Slow on purpose: call it
    off the event loop."""
    return _hasher.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    """Whether `pin` is the one `pin_hash` was made from (constant time; False for a damaged hash). Slow on
    purpose: call it off the event loop."""
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
