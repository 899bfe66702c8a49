"""Framework overhead of the executors: local processes, Dask, Ray, and Ray Tune.

What is measured
----------------
``--trials`` trials (default 1,000) of an objective that sleeps ``--seconds`` (default
1 s) and returns a quadratic of one ``suggest_float``, with ``--workers`` trials at a
time (default 2). The ideal wall time is ``trials * seconds / workers``; the
**overhead** is ``(wall - ideal) / ideal``: the time the framework adds to run,
schedule and record the trials (sampling, storage, process or task start-up,
messaging, result collection).

* ``pool``: ``study.optimize(obj, n_trials, n_workers=W)`` (local worker processes);
* ``dask``: the same with ``executor=DaskExecutor(client)`` on a ``LocalCluster`` of
  ``W`` worker processes with one thread each;
* ``ray``: ``executor=RayExecutor("local")`` on a private Ray cluster started with
  ``ray.init(num_cpus=W)``;
* ``raytune``: Ray Tune on the same kind of private cluster: ``tune.Tuner`` with a
  function trainable doing the same work, ``num_samples=trials``,
  ``max_concurrent_trials=W``, random search (``tune.uniform``), results kept in a
  temporary folder.

tunesmith studies are in memory with a random sampler (as Ray Tune's default search).
Timing starts when ``optimize`` / ``Tuner.fit`` is called and stops when it returns;
cluster start-up and shutdown are not counted (reported separately). Every run is
checked: exactly ``trials`` finished trials.

Run: ``.bench-venv/bin/python benchmarks/executor_overhead.py`` (needs tunesmith with
the dask and ray extras and ``ray[tune]`` in that environment; ``--quick``: 20 trials
of 0.2 s). Results: ``benchmarks/results/executor_overhead.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

ENGINES = ("pool", "dask", "ray", "raytune")


def _objective(seconds: float) -> Any:
    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        time.sleep(seconds)
        return x * x

    return objective


def run_tunesmith(engine: str, trials: int, seconds: float, workers: int) -> dict[str, Any]:
    import tunesmith as ts

    study = ts.create_study(sampler="random", seed=0)
    objective = _objective(seconds)
    t_setup = time.perf_counter()
    closer: Any = None
    executor: Any = None
    if engine == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        executor = ts.DaskExecutor(client)

        def closer() -> None:
            client.close()
            cluster.close()

    elif engine == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        executor = ts.RayExecutor("local")
        closer = ray.shutdown
    setup = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    if executor is None:
        study.optimize(objective, n_trials=trials, n_workers=workers, show_progress=False)
    else:
        study.optimize(
            objective, n_trials=trials, n_workers=workers, executor=executor, show_progress=False
        )
    wall = time.perf_counter() - t0
    finished = sum(1 for t in study.trials if t.state == ts.TrialState.COMPLETE)
    if closer is not None:
        closer()
    return {"wall_s": wall, "setup_s": setup, "complete": finished}


def run_raytune(trials: int, seconds: float, workers: int) -> dict[str, Any]:
    import ray
    from ray import tune

    def trainable(config: dict[str, float]) -> dict[str, float]:
        time.sleep(seconds)
        return {"loss": config["x"] ** 2}

    t_setup = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    setup = time.perf_counter() - t_setup
    with tempfile.TemporaryDirectory() as tmp:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"x": tune.uniform(-1.0, 1.0)},
            tune_config=tune.TuneConfig(
                num_samples=trials, max_concurrent_trials=workers, metric="loss", mode="min"
            ),
            run_config=tune.RunConfig(storage_path=tmp, name="overhead", verbose=0),
        )
        t0 = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - t0
        finished = sum(1 for r in results if r.error is None and r.metrics.get("loss") is not None)
    ray.shutdown()
    return {"wall_s": wall, "setup_s": setup, "complete": finished}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    ap.add_argument("--quick", action="store_true", help="20 trials of 0.2 s")
    ap.add_argument("--out", type=Path, default=_common.RESULTS)
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.seconds = 20, 0.2
        args.out = args.out / "quick"
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    info = _common.machine_info()
    ideal = args.trials * args.seconds / args.workers
    rows: list[dict[str, Any]] = []
    for engine in args.engines:
        load = os.getloadavg()
        print(
            f"{engine}: {args.trials} trials of {args.seconds} s on {args.workers} workers",
            flush=True,
        )
        if engine == "raytune":
            res = run_raytune(args.trials, args.seconds, args.workers)
        else:
            res = run_tunesmith(engine, args.trials, args.seconds, args.workers)
        res.update(engine=engine, load_before=load, overhead=(res["wall_s"] - ideal) / ideal)
        if res["complete"] != args.trials:
            res["problem"] = f"{res['complete']} of {args.trials} trials finished"
        print(f"  wall {res['wall_s']:.1f} s, overhead {100 * res['overhead']:.2f} %", flush=True)
        rows.append(res)

    versions = _common.package_versions(
        ["tunesmith", "dask", "distributed", "ray", "numpy", "cloudpickle"]
    )
    names = {
        "pool": "tunesmith, local processes",
        "dask": "tunesmith, DaskExecutor",
        "ray": "tunesmith, RayExecutor",
        "raytune": "Ray Tune",
    }
    table = _common.md_table(
        [
            "executor",
            "wall (s)",
            "ideal (s)",
            "overhead",
            "cluster start (s)",
            "trials",
            "load before",
        ],
        [
            [
                names[r["engine"]],
                f"{r['wall_s']:.1f}",
                f"{ideal:.1f}",
                f"{100 * r['overhead']:.2f} %",
                f"{r['setup_s']:.1f}",
                str(r["complete"]),
                _common.fmt_load(r["load_before"]),
            ]
            for r in rows
        ],
    )
    md = "\n".join(
        [
            "# Executor overhead",
            "",
            f"Produced by `{_common.command_line()}`.",
            "",
            *_common.machine_lines(info),
            f"- Packages: {', '.join(f'{k} {v}' for k, v in versions.items())}",
            "",
            f"{args.trials} trials of a {args.seconds:g}-second objective, {args.workers} at a "
            f"time; ideal wall time {ideal:.1f} s; overhead = (wall - ideal) / ideal.",
            "",
            table,
            "",
            (__doc__ or "").split("What is measured\n----------------\n", 1)[1].split("\nRun:")[0],
        ]
    )
    _common.write_outputs(
        args.out, "executor_overhead", md, {"rows": rows, "ideal_s": ideal, "machine": info}
    )
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
