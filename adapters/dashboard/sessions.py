"""Dashboard sessions and the CSRF tokens tied to them, without server-side state.

A session is a cookie ``<id>.<expires>.<signature>``: the signature is an HMAC over the id
and expiry, keyed by a secret derived from the server's API key, so sessions outlive a
restart and all die when the key changes. Without an API key there is nothing to log in
with, but forms still need a CSRF token: every browser gets a session from a secret made
fresh for the process. The cookie never holds the API key itself.

The CSRF token of a session is a second HMAC over its id: a form posted without the token
of the session it comes with is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "dockyard_session"
LIFETIME = 7 * 24 * 3600  # seconds


@dataclass(frozen=True)
class Session:
    id: str
    expires: int


class SessionKeeper:
    def __init__(
        self, api_key: str | None, *, clock: Callable[[], float] = time.time, lifetime: int = LIFETIME
    ) -> None:
        self._api_key = api_key.encode() if api_key else None
        base = self._api_key if self._api_key is not None else secrets.token_bytes(32)
        self._secret = hmac.new(base, b"dockyard dashboard sessions", hashlib.sha256).digest()
        self._clock = clock
        self.lifetime = lifetime

    @property
    def requires_login(self) -> bool:
        return self._api_key is not None

    def key_matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is the API key (compared in constant time)."""
        if self._api_key is None:
            return False
        return hmac.compare_digest(candidate.strip().encode(), self._api_key)

    def issue(self) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(secrets.token_urlsafe(18), int(self._clock()) + self.lifetime)
        return session, f"{session.id}.{session.expires}.{self._sign(session)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie value stands for; None when it is missing, forged or expired."""
        if not cookie:
            return None
        session_id, _, rest = cookie.partition(".")
        expires, _, signature = rest.partition(".")
        if not session_id or not expires.isdigit() or not signature:
            return None
        session = Session(session_id, int(expires))
        if not hmac.compare_digest(signature, self._sign(session)) or session.expires <= self._clock():
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return self._mac(f"csrf|{session.id}")

    def csrf_matches(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    def _sign(self, session: Session) -> str:
        return self._mac(f"session|{session.id}|{session.expires}")

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()
