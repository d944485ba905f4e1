"""ledgerlm: an LLM gateway and logger with one OpenAI-format API and a spend ledger correct to the cent.

The public SDK surface is listed in ``__all__`` (a test checks it). Nothing runs at import time.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
