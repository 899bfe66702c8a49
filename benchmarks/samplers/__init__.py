"""Sampler-quality benchmark: tunesmith's samplers and peers on the same problems and budgets.

Modules:

* :mod:`.space` - the library-neutral search-space description every adapter maps;
* :mod:`.problems` - synthetic functions, scikit-learn tuning problems, tabular benchmarks;
* :mod:`.peers` - one adapter per sampler (tunesmith, Optuna, Hyperopt, SMAC3, HEBO);
* :mod:`.run` - the resumable, parallel runner (CLI);
* :mod:`.report` - tables, ranks, plots; :mod:`.overhead` - per-trial sampler cost.

Run from the repository root with the bench virtualenv, e.g.
``.bench-venv/bin/python -m benchmarks.samplers.run --quick``.
"""
