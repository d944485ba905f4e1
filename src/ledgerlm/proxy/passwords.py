"""Password hashes for ``/login`` users (``users.password_hash``): salted scrypt (stdlib ``hashlib``).

Format: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (RFC 7914 parameters n=2**14, r=8, p=1; 16-byte
salt; 32-byte hash). ``verify`` compares in constant time and is ``False`` for any malformed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

_N, _R, _P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """The stored form of ``password``. Raises ``ValueError`` when empty or over 1024 characters."""
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"password must be 1..{MAX_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_derive(password, salt, _N, _R, _P).hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (``hash_password`` output)."""
    if not stored or not password or len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(derived.hex(), digest)
