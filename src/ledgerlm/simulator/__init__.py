"""Provider simulator: a local server speaking the providers' wire formats, for tests, demo, benchmarks.

``Simulator`` (``ledgerlm.simulator.server``) runs it in-process; ``ledgerlm simulate --port 18080``
runs it from the command line. Knobs: ``ledgerlm.simulator.knobs``. Payloads are written by this
project from the providers' documented formats.
"""

from __future__ import annotations

from ledgerlm.simulator.knobs import Knobs, merge_knobs
from ledgerlm.simulator.server import Simulator
from ledgerlm.simulator.state import SimRequest

__all__ = ["Knobs", "SimRequest", "Simulator", "merge_knobs"]
