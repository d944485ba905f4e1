"""A refreshed price catalog on disk: ``ledgerlm prices update`` writes it, ``load_prices_file`` uses it.

The bundled genai-prices data is the default. ``download_prices(path)`` (explicit, networked) fetches
genai-prices' published JSON (``genai_prices.update_prices.DEFAULT_UPDATE_URL``), validates it and
writes it atomically; ``load_prices_file(path)`` (offline) makes it the catalog of this process.
Nothing here runs at import time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["default_prices_path", "download_prices", "load_prices_file", "parse_prices"]


def default_prices_path() -> Path:
    """``$XDG_CACHE_HOME/ledgerlm/genai-prices.json`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ledgerlm" / "genai-prices.json"


def parse_prices(raw: bytes | str) -> list[Any]:
    """Validate genai-prices provider JSON; returns the parsed providers. Raises ``ValueError``."""
    from genai_prices.types import _providers_from_raw

    payload = json.loads(raw)
    if not isinstance(payload, list):
        raise ValueError("expected a JSON array of providers")
    providers = _providers_from_raw(payload)
    if not providers:
        raise ValueError("the price data holds no providers")
    return providers


def load_prices_file(path: str | os.PathLike[str]) -> int:
    """Use the catalog in ``path`` for this process (compile prices after calling it).

    Returns the number of providers loaded; raises ``OSError`` / ``ValueError``.
    """
    from genai_prices import data_snapshot

    providers = parse_prices(Path(path).read_bytes())
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers, from_auto_update=True))
    return len(providers)


def download_prices(path: str | os.PathLike[str], *, url: str | None = None, timeout: float = 30.0) -> int:
    """Fetch the latest genai-prices data (network) and write it to ``path`` atomically.

    Returns the number of providers; raises ``OSError`` on network / disk errors, ``ValueError``
    when the data does not validate (``path`` is then left unchanged).
    """
    import urllib.request

    from genai_prices.update_prices import DEFAULT_UPDATE_URL

    with urllib.request.urlopen(url or DEFAULT_UPDATE_URL, timeout=timeout) as response:
        raw = response.read()
    count = len(parse_prices(raw))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(target)
    return count
