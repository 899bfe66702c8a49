"""Run one cell and print its record as one JSON line (used for samplers in another venv).

``python -m benchmarks.samplers.cell PROBLEM SAMPLER SEED BUDGET TIME_LIMIT``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import sys  # noqa: E402

from benchmarks.samplers import peers, problems  # noqa: E402


def main(argv: list[str]) -> int:
    name, sampler, seed, budget, time_limit = argv
    rec = peers.run_cell(
        sampler, problems.get_problem(name), int(seed), int(budget), float(time_limit)
    )
    sys.stdout.write(json.dumps(rec, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
