"""Dashboard sessions: who is logged in (``Principal``), carried in a signed cookie.

The cookie ``ledgerlm_session`` holds ``base64url(JSON principal) + "." + HMAC-SHA256`` and is set
``HttpOnly; SameSite=Strict; Path=/`` (``Secure`` behind HTTPS), lifetime ``SESSION_TTL_S`` (12 h).
The signing secret is derived from the master key (every instance of one deployment accepts the
others' cookies; changing the master key logs everyone out); with no master key it is random per process.
A tampered, expired or foreign cookie reads as no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass

import orjson

__all__ = ["COOKIE", "SESSION_TTL_S", "Principal", "SessionSigner"]

COOKIE = "ledgerlm_session"
SESSION_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Principal:
    """A logged-in person.

    ``role``: ``proxy_admin``, ``proxy_admin_viewer``, ``internal_user``, ``internal_user_viewer`` (LiteLLM
    role names); ``user_id``: the user (``None`` for the master key or a key without a user);
    ``key_hash``: the virtual key logged in with (``None`` otherwise); ``admin_teams``: teams where the
    user is a member with role ``admin`` (a team admin); ``login``: ``master_key``, ``key`` or ``password``;
    ``expires``: UNIX seconds.
    """

    role: str
    user_id: str | None = None
    key_hash: str | None = None
    admin_teams: tuple[str, ...] = ()
    login: str = "key"
    expires: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and reads session cookies; ``master_key`` (or ``None``) seeds the secret."""

    def __init__(self, master_key: str | None) -> None:
        seed = master_key.encode("utf-8") if master_key else secrets.token_bytes(32)
        self._secret = hmac.new(seed, b"ledgerlm-ui-session-v1", hashlib.sha256).digest()

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, principal: Principal) -> str:
        """The cookie value for ``principal`` (its ``expires`` set to now + ``SESSION_TTL_S`` if 0)."""
        fields = asdict(principal)
        fields["expires"] = principal.expires or int(time.time()) + SESSION_TTL_S
        body = _b64(orjson.dumps(fields))
        return f"{body}.{self._mac(body)}"

    def read(self, value: str | None) -> Principal | None:
        """The principal of a cookie value, or ``None`` when absent, tampered or expired."""
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            fields = orjson.loads(_unb64(body))
            principal = Principal(**{**fields, "admin_teams": tuple(fields.get("admin_teams") or ())})
        except (ValueError, TypeError, orjson.JSONDecodeError):
            return None
        return principal if principal.expires > time.time() else None
