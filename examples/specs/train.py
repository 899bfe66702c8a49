"""A stand-in for a training script, run by command.yaml once per trial.

It shows the command-objective protocol: parameters arrive as command-line
arguments (and as JSON in $TUNESMITH_PARAMS); each epoch prints a JSON line with a
"step" key (stored as an intermediate value); the last JSON line is the result.
Other output (like the "epoch ..." lines) is ignored. Exit with a nonzero code to
fail the trial; stderr's last lines are stored with it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], required=True)
    args = parser.parse_args()
    trial = int(os.environ.get("TUNESMITH_TRIAL_NUMBER", "0"))
    if args.lr > 0.5 and args.optimizer == "sgd":
        print("diverged: the loss is NaN (lr too high for sgd)", file=sys.stderr)
        return 1
    best_lr = 1e-2 if args.optimizer == "adam" else 1e-1
    floor = 0.05 + 0.2 * math.log10(args.lr / best_lr) ** 2
    loss = 1.0
    for epoch in range(1, args.epochs + 1):
        loss = floor + (1.0 - floor) * 0.5**epoch
        print(f"epoch {epoch}: loss {loss:.4f}")  # plain text: ignored
        print(json.dumps({"step": epoch, "loss": loss}), flush=True)
    print(json.dumps({"loss": loss, "accuracy": 1.0 - loss / 2, "trial": trial}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
