"""The benchmark's modules live in bench/ (scripts, not the dockyard package): make them
importable by their own names, as the scripts import them."""

from __future__ import annotations

import sys

from support.paths import REPO_ROOT

BENCH = str(REPO_ROOT / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
