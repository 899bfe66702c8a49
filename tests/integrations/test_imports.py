"""Importing tunesmith must not import the training libraries the integrations serve."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("xgboost", "lightgbm", "torch")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize(
    "statement",
    [
        "import tunesmith",
        "import tunesmith.integrations",
        "import tunesmith.integrations.torch",  # the loop helpers need no PyTorch
    ],
)
def test_no_training_library_is_imported(statement):
    assert _loaded_after(statement) == []


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_each_integration_imports_only_its_library(library):
    pytest.importorskip(library)
    loaded = _loaded_after(f"import tunesmith.integrations.{library}")
    assert library in loaded
    assert "torch" not in loaded
