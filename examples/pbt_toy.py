"""Population-based training on a toy "training" run, against random search.

The model is one number, the loss, which each training step shrinks with a learning
rate ``lr`` while adding noise that grows with ``lr``: a large rate converges fast but
settles high, a small one settles low but slowly. No fixed rate is best; a falling
schedule is, and PBT finds one by copying the best runs' checkpoints and perturbing
their rates. Both methods train the same number of steps in worker processes; the
script prints the best loss each reached.

Run:  python examples/pbt_toy.py                   (8 workers, 80 steps per run)
      python examples/pbt_toy.py --workers 4 --steps 40 --storage pbt.db
"""

from __future__ import annotations

import argparse
import time

import tunesmith as ts


def train_step(state: dict, lr: float) -> dict:
    """One step: the loss moves towards ``lr`` at rate ``lr``."""
    return {"step": state["step"] + 1, "loss": state["loss"] * (1 - lr) + lr * lr}


def make_objective(max_step: int, seconds_per_step: float):
    def objective(trial: ts.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        # A new run starts from scratch; a PBT replacement from the copied checkpoint.
        state = trial.load_checkpoint(default={"step": 0, "loss": 1.0})
        while state["step"] < max_step:
            state = train_step(state, lr)
            time.sleep(seconds_per_step)  # the "work"; keeps the workers side by side
            trial.save_checkpoint(state)  # before report: PBT may copy it right away
            trial.report(state["loss"], step=state["step"])
            if trial.should_prune():
                raise ts.TrialPruned()
        return state["loss"]

    return objective


def steps_trained(study: ts.Study) -> int:
    return sum(len(t.intermediate) for t in study.trials)


def best_loss(study: ts.Study) -> float:
    return min(v[0] for t in study.trials for v in t.intermediate.values())


def run(name: str, pruner: ts.Pruner | None, args: argparse.Namespace) -> ts.Study:
    budget = args.workers * args.steps
    study = ts.create_study(
        name, storage=args.storage, sampler="random", pruner=pruner, seed=args.seed
    )

    def stop_at_budget(study: ts.Study, _trial: ts.FrozenTrial) -> None:
        if steps_trained(study) >= budget:
            study.stop()

    objective = make_objective(args.steps, args.seconds_per_step)
    # Random search: one run per worker. PBT: replacements keep the population full
    # until the same number of steps was trained.
    n_trials = args.workers if pruner is None else None
    study.optimize(objective, n_trials=n_trials, n_workers=args.workers, callbacks=[stop_at_budget])
    return study


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=8, help="population size and processes")
    ap.add_argument("--steps", type=int, default=80, help="training steps of one run")
    ap.add_argument("--interval", type=int, default=4, help="PBT perturbation interval")
    ap.add_argument("--seconds-per-step", type=float, default=0.02)
    ap.add_argument("--storage", default=None, help="SQLite file (default: in memory)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rs = run(f"random-{args.seed}", None, args)
    pbt = ts.PBT(population_size=args.workers, perturbation_interval=args.interval)
    pb = run(f"pbt-{args.seed}", pbt, args)
    n_exploits = sum("pbt_parent" in t.system_attrs for t in pb.trials)
    print(f"{'method':<14} {'steps':>6} {'trials':>6} {'best loss':>10}")
    print(
        f"{'random search':<14} {steps_trained(rs):>6} {len(rs.trials):>6} {best_loss(rs):>10.4f}"
    )
    print(f"{'PBT':<14} {steps_trained(pb):>6} {len(pb.trials):>6} {best_loss(pb):>10.4f}")
    print(f"PBT replaced {n_exploits} runs by perturbed copies of better ones.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
