"""Run every benchmark script in ``benchmarks/`` one after the other and print their output.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick]`` (``make bench``). Scripts are the ``*.py`` files
of this folder except helpers (``_*.py``) and this file, in name order; ``--quick`` is passed to the
scripts that define that option. Exits non-zero when a script failed (after running the others).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    """The benchmark scripts, in name order."""
    return sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")


def accepts_quick(script: Path) -> bool:
    """True when the script defines a ``--quick`` option (its source names it)."""
    return '"--quick"' in script.read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for script in scripts():
        args = ["--quick"] if quick and accepts_quick(script) else []
        print(f"\n=== {script.name} {' '.join(args)}".rstrip(), flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script), *args], cwd=HERE.parent)
        print(f"=== {script.name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
