"""Make the repository root importable, so the tests can ``import benchmarks.cec2017``.

``benchmarks/`` is not an installed package; ``python -m pytest`` would find it from
the current directory, but the ``pytest`` script does not put the root on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
