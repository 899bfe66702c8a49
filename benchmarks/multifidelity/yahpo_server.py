"""Serve YAHPO Gym ``lcbench`` learning curves over stdin/stdout, one JSON line each.

Runs with the interpreter of the YAHPO virtualenv (``.bench-yahpo``, see
``setup_yahpo.sh``): yahpo-gym pins numpy 1.26 and ConfigSpace 0.6.1, which clash with
the benchmark virtualenv, so the benchmark talks to this process instead of importing
yahpo-gym. Standard library and yahpo-gym only; no tunesmith import.

Usage: ``python yahpo_server.py DATA_DIR`` (``DATA_DIR`` holds ``lcbench/model.onnx``).
Request: ``{"task": "3945", "config": {"batch_size": 64, ...}}``; answer:
``{"epochs": [1..52], "val_accuracy": [...], "time": [...]}`` (``time``: the
surrogate's cumulative training seconds after each epoch), or ``{"error": "..."}``.
The first line written is ``{"ready": true, "tasks": [...]}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from typing import Any

N_EPOCHS = 52


class Curves:
    """lcbench curves: all 52 epochs of one configuration in one surrogate call.

    ``BenchmarkSet.objective_function`` encodes every (configuration, epoch) row on its
    own in Python, which costs more than the network; here the configuration is encoded
    once and only the epoch column changes. :meth:`check` compares the two paths.
    """

    def __init__(self, bench: Any) -> None:
        import numpy as np

        self.np = np
        self.bench = bench
        bench.set_session(multithread=False)
        self.inputs = [x.name for x in bench.session.get_inputs()]
        self.output = bench.session.get_outputs()[0].name
        self.epoch_col = list(bench.config.cont_names).index("epoch")
        self.y_names = list(bench.config.y_names)

    def fast(self, task: str, config: dict[str, Any]) -> dict[str, list[float]]:
        np = self.np
        x_cont, x_cat = self.bench._config_to_xs(dict(config, epoch=1, OpenML_task_id=task))
        x_cont = np.repeat(x_cont, N_EPOCHS, axis=0)
        x_cont[:, self.epoch_col] = np.arange(1, N_EPOCHS + 1, dtype=np.float32)
        x_cat = np.repeat(x_cat, N_EPOCHS, axis=0)
        out = self.bench.session.run(
            [self.output], {self.inputs[0]: x_cat, self.inputs[1]: x_cont}
        )[0]
        return {name: out[:, j].astype(float).tolist() for j, name in enumerate(self.y_names)}

    def slow(self, task: str, config: dict[str, Any]) -> dict[str, list[float]]:
        rows = [dict(config, epoch=e, OpenML_task_id=task) for e in range(1, N_EPOCHS + 1)]
        res = self.bench.objective_function(rows, multithread=False)
        return {name: [float(r[name]) for r in res] for name in self.y_names}

    def check(self, task: str) -> bool:
        """Whether the fast path gives yahpo-gym's own answers for a few configurations."""
        np = self.np
        cs = self.bench.get_opt_space(drop_fidelity_params=True, seed=0)
        for _ in range(3):
            cfg = cs.sample_configuration().get_dictionary()
            cfg.pop("OpenML_task_id", None)
            a, b = self.fast(task, cfg), self.slow(task, cfg)
            for name in ("val_accuracy", "time"):
                if not np.allclose(a[name], b[name], rtol=1e-6, atol=1e-6):
                    return False
        return True


def main() -> int:
    data = sys.argv[1]
    out = sys.stdout
    # yahpo-gym prints citations on import/initialisation: keep stdout for answers only.
    with contextlib.redirect_stdout(sys.stderr):
        cfg_dir = tempfile.mkdtemp(prefix="yahpo-cfg-")
        os.environ.setdefault("YAHPO_LOCAL_CONFIG", os.path.join(cfg_dir, "config.yaml"))
        from yahpo_gym import BenchmarkSet, local_config

        local_config.init_config()
        local_config.set_data_path(data)
        bench = BenchmarkSet("lcbench", multithread=False)
        tasks = list(bench.instances)
        curves = Curves(bench)
        fast = curves.check(tasks[0])
        if not fast:
            print("yahpo_server: the one-call path disagrees with yahpo-gym; using the "
                  "row-by-row path", file=sys.stderr)  # fmt: skip
    out.write(json.dumps({"ready": True, "tasks": tasks, "fast": fast}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            task = str(req["task"])
            if task not in tasks:
                raise ValueError(f"unknown lcbench task {task!r}")
            with contextlib.redirect_stdout(sys.stderr):
                res = (curves.fast if fast else curves.slow)(task, dict(req["config"]))
            ans = {
                "epochs": list(range(1, N_EPOCHS + 1)),
                "val_accuracy": res["val_accuracy"],
                "time": res["time"],
            }
        except Exception as exc:  # answer the error; the client raises it
            ans = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(ans) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
