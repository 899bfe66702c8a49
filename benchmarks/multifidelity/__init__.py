"""Multi-fidelity benchmark: pruners (tunesmith's and Optuna's) on simulated learning curves.

Modules:

* :mod:`.problems` - curve benchmarks (tunesmith's ``HartmannCurves``, YAHPO lcbench tasks)
  and their simulated time budgets;
* :mod:`.methods` - sampler + pruner combinations, and the adapter that lets
  :func:`tunesmith.simulate.simulate` drive an Optuna study;
* :mod:`.run` - the resumable runner (CLI); :mod:`.report` - speed-ups, equal-time
  comparisons, plots;
* ``yahpo_server.py`` - serves lcbench curves from the YAHPO virtualenv
  (``setup_yahpo.sh``).

Run from the repository root with the bench virtualenv, e.g.
``.bench-venv/bin/python -m benchmarks.multifidelity.run --quick``.
"""
