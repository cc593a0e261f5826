"""Server-side web sessions: the idle timeout, a new id and form token at sign-in, sign-in attempts used once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.roles import Actor, Role
from web import sessions as web_sessions
from web.sessions import SIGN_IN_LIFETIME, SessionStore, SignedInUser

START = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


USER = SignedInUser(Actor(user_id="nurse.chen", role=Role.NURSE), "credential")


def test_a_session_ends_once_idle_for_its_timeout_and_each_request_restarts_the_wait() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=timedelta(minutes=15), clock=clock)
    session = store.sign_in(store.new(), USER)
    for _ in range(3):
        clock.now += timedelta(minutes=14, seconds=59)
        assert store.current(session.id)[0] is not None
    clock.now += timedelta(minutes=15)
    assert store.current(session.id) == (None, True)  # just ended by the timeout: the page says so
    assert store.current(session.id) == (None, False)  # and it is gone


def test_signing_in_replaces_the_anonymous_session_with_a_new_id_and_form_token() -> None:
    store = SessionStore(idle_timeout=timedelta(minutes=15), clock=Clock())
    anonymous = store.new()
    signed = store.sign_in(anonymous, USER)
    assert signed.id != anonymous.id and signed.csrf_token != anonymous.csrf_token
    assert store.current(anonymous.id) == (None, False)
    assert store.current(signed.id)[0] == signed


def test_a_sign_in_attempt_is_used_once_with_its_state_and_only_while_recent() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=timedelta(minutes=15), clock=clock)
    attempt = store.start_attempt("the-state", "the-verifier", "http://127.0.0.1/auth/callback")
    assert store.finish_attempt(attempt.id, "another-state") is None
    assert store.finish_attempt(attempt.id, "the-state") is None  # a wrong state spent it

    attempt = store.start_attempt("the-state", "the-verifier", "http://127.0.0.1/auth/callback")
    assert store.finish_attempt(attempt.id, "the-state") == attempt
    assert store.finish_attempt(attempt.id, "the-state") is None

    late = store.start_attempt("the-state", "the-verifier", "http://127.0.0.1/auth/callback")
    clock.now += SIGN_IN_LIFETIME
    assert store.finish_attempt(late.id, "the-state") is None


def test_a_flood_of_sign_in_pages_drops_the_longest_idle_anonymous_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_sessions, "MAX_ANONYMOUS_SESSIONS", 3)
    clock = Clock()
    store = SessionStore(idle_timeout=timedelta(minutes=15), clock=clock)
    signed = store.sign_in(None, USER)
    made = []
    for _ in range(5):
        clock.now += timedelta(seconds=1)
        made.append(store.new())
    assert [store.current(s.id)[0] is not None for s in made] == [False, False, True, True, True]
    assert store.current(signed.id)[0] is not None
