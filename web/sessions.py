"""Server-side web sessions: the browser holds only a random id (an HttpOnly, Secure, SameSite=Strict cookie); who
signed in, their credential and the form token stay here. A session ends after its idle timeout.

Kept in the API process's memory: a restart signs everyone out, and one process serves the pages (several would
need a shared store)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from domain.roles import Actor

SESSION_COOKIE: Final = "trialflow_session"
# An OpenID sign-in under way: the browser comes back from the provider on a cross-site navigation, which carries
# SameSite=Lax cookies only; this one names the attempt, which must also match the `state` the provider returns.
SIGN_IN_COOKIE: Final = "trialflow_sign_in"
SIGN_IN_LIFETIME: Final = timedelta(minutes=10)
# Anonymous sessions (a sign-in page shown) kept at most; beyond, the longest idle go first, so a flood of page loads
# cannot fill the process's memory. Signed-in sessions are never dropped for it.
MAX_ANONYMOUS_SESSIONS: Final = 10_000


def _random_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SignedInUser:
    """Who the session acts for and the credential that says so (checked again on every request, so a revoked or
    expired credential ends the session at once)."""

    actor: Actor
    credential: str
    printed_name: str | None = None
    refresh_token: str | None = None  # an OpenID sign-in's: renews the credential once it has expired


@dataclass(frozen=True)
class WebSession:
    id: str
    csrf_token: str  # every form post of this session carries it (web/csrf.py)
    last_seen: datetime
    user: SignedInUser | None = None


@dataclass(frozen=True)
class SignInAttempt:
    """An authorization-code sign-in under way: the PKCE verifier and the state the provider must send back."""

    id: str
    state: str
    code_verifier: str
    redirect_uri: str
    started: datetime


@dataclass
class SessionStore:
    idle_timeout: timedelta
    clock: Callable[[], datetime]
    _sessions: dict[str, WebSession] = field(default_factory=dict)
    _attempts: dict[str, SignInAttempt] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self) -> WebSession:
        """A fresh anonymous session (its form token lets the sign-in form be posted)."""
        now = self.clock()
        session = WebSession(id=_random_id(), csrf_token=_random_id(), last_seen=now)
        with self._lock:
            self._forget_idle(now)
            anonymous = [s for s in self._sessions.values() if s.user is None]
            if len(anonymous) >= MAX_ANONYMOUS_SESSIONS:
                anonymous.sort(key=lambda s: s.last_seen)
                for oldest in anonymous[: len(anonymous) - MAX_ANONYMOUS_SESSIONS + 1]:
                    del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def current(self, session_id: str | None) -> tuple[WebSession | None, bool]:
        """The session with this id, its idle time restarted; and whether it was just ended by its idle timeout."""
        if not session_id:
            return None, False
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None, False
            if now - session.last_seen >= self.idle_timeout:
                del self._sessions[session_id]
                return None, session.user is not None
            session = self._sessions[session_id] = replace(session, last_seen=now)
            return session, False

    def sign_in(self, previous: WebSession | None, user: SignedInUser) -> WebSession:
        """A new session for `user`; the previous one (anonymous) ends, so an id planted before sign-in is useless."""
        with self._lock:
            if previous is not None:
                self._sessions.pop(previous.id, None)
        session = WebSession(id=_random_id(), csrf_token=_random_id(), last_seen=self.clock(), user=user)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def renewed(self, session: WebSession, user: SignedInUser) -> WebSession | None:
        """The session with its user's renewed credential (None if it has ended meanwhile)."""
        with self._lock:
            if session.id not in self._sessions:
                return None
            updated = self._sessions[session.id] = replace(self._sessions[session.id], user=user)
            return updated

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def start_attempt(self, state: str, code_verifier: str, redirect_uri: str) -> SignInAttempt:
        now = self.clock()
        attempt = SignInAttempt(_random_id(), state, code_verifier, redirect_uri, now)
        with self._lock:
            self._attempts = {k: a for k, a in self._attempts.items() if now - a.started < SIGN_IN_LIFETIME}
            self._attempts[attempt.id] = attempt
        return attempt

    def finish_attempt(self, attempt_id: str | None, state: str | None) -> SignInAttempt | None:
        """The attempt the browser's cookie names, once, if the provider sent back its state and it is recent."""
        if not attempt_id or not state:
            return None
        with self._lock:
            attempt = self._attempts.pop(attempt_id, None)
        if attempt is None or not secrets.compare_digest(attempt.state, state):
            return None
        return attempt if self.clock() - attempt.started < SIGN_IN_LIFETIME else None

    def _forget_idle(self, now: datetime) -> None:
        idle = [key for key, session in self._sessions.items() if now - session.last_seen >= self.idle_timeout]
        for key in idle:
            del self._sessions[key]
