"""Virtual keys (``verification_tokens``): create, look up by hash, update, delete, list.

A key is ``sk-`` + 43 URL-safe characters, shown once; only its SHA-256 hex digest (``token``) and a
masked name (``key_name``, ``sk-...abcd``) are stored. Fields (LiteLLM ``/key/generate`` names):
``key_alias``, ``models`` (list of model groups; empty = all), ``max_budget``/``soft_budget`` (USD
``Decimal``), ``budget_duration`` (``30s``, ``1h``, ``1d``, ``30d``, ``1mo``), ``budget_reset_at``,
``tpm_limit``, ``rpm_limit``, ``max_parallel_requests``, ``metadata`` (dict; ``metadata["tags"]`` are
the key's request tags), ``team_id``, ``user_id``, ``organization_id``, ``expires`` (aware datetime),
``blocked``. ``spend`` (USD) is maintained by the spend writer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import verification_tokens

KEY_PREFIX = "sk-"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def generate_key() -> str:
    """A new random virtual key: ``sk-`` + 43 URL-safe characters (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex digest of ``key`` (the stored ``token``). A 64-hex input is taken as a hash already."""
    if _SHA256_HEX.fullmatch(key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def mask_key(key: str) -> str:
    """The displayable form of a key: ``sk-...`` plus its last 4 characters."""
    return f"{KEY_PREFIX}...{key[-4:]}"


async def create_key(engine: AsyncEngine, key: str, fields: Mapping[str, Any] | None = None) -> Row:
    """Store virtual key ``key`` (hashed) with ``fields`` (see module docstring); returns the row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when the key exists.
    """
    values = {**(fields or {}), "token": hash_key(key), "key_name": mask_key(key)}
    return await _crud.create(engine, verification_tokens, values)


async def get_key(engine: AsyncEngine, key_or_hash: str) -> Row | None:
    """The key row for a raw key or its SHA-256 hash, or ``None``."""
    return await _crud.get(engine, verification_tokens, hash_key(key_or_hash))


async def update_key(engine: AsyncEngine, key_or_hash: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` (module-docstring fields) and return the row, or ``None`` if no such key."""
    return await _crud.update(engine, verification_tokens, hash_key(key_or_hash), changes)


async def delete_key(engine: AsyncEngine, key_or_hash: str) -> bool:
    """Delete a key; ``True`` when it existed. Its spend log rows are kept."""
    return await _crud.delete(engine, verification_tokens, hash_key(key_or_hash))


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """Which keys ``list_keys`` returns: every field set must match (``token``: a key hash)."""

    team_id: str | None = None
    user_id: str | None = None
    key_alias: str | None = None
    organization_id: str | None = None
    token: str | None = None


async def list_keys(
    engine: AsyncEngine, where: KeyFilter | None = None, *, limit: int = 100, offset: int = 0
) -> list[Row]:
    """Keys matching ``where`` (default: every key), oldest first, paginated."""
    where = where or KeyFilter()
    fields = {
        "team_id": where.team_id,
        "user_id": where.user_id,
        "key_alias": where.key_alias,
        "organization_id": where.organization_id,
        "token": where.token,
    }
    return await _crud.list_rows(engine, verification_tokens, where=fields, limit=limit, offset=offset)


async def regenerate_key(engine: AsyncEngine, key_or_hash: str, new_key: str) -> Row | None:
    """Replace the secret of a key in place (LiteLLM's key regeneration): the row keeps its fields,
    budget and spend under the hash of ``new_key``; the old key stops working. Spend log rows keep
    the old hash. Returns the updated row, or ``None`` when the key does not exist."""
    values = {"token": hash_key(new_key), "key_name": mask_key(new_key), "updated_at": datetime.now(UTC)}
    statement = (
        verification_tokens.update()
        .where(verification_tokens.c.token == hash_key(key_or_hash))
        .values(values)
        .returning(*verification_tokens.c)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).mappings().first()
    return None if row is None else dict(row)
