"""A program that leaves a sync stream open exits promptly and cleanly (bridge thread, sessions, loop)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, ledgerlm
from ledgerlm.simulator import Simulator
sim = Simulator().start()
kw = dict(api_base=sim.url + "/v1", api_key="k")
msgs = [{"role": "user", "content": "x"}]
ledgerlm.completion("openai/gpt-4o-mini", msgs, **kw)
open_stream = ledgerlm.completion("openai/gpt-4o-mini", msgs, stream=True, **kw)
next(open_stream)
async def main():
    await ledgerlm.acompletion("openai/gpt-4o-mini", msgs, **kw)
asyncio.run(main())
sim.stop()
print("ok")
"""


def test_exit_with_an_open_sync_stream_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "ResourceWarning" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
