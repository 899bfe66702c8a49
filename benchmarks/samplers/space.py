"""A library-neutral description of a search space, mapped by every adapter in ``peers``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    """One parameter.

    ``kind`` is ``"float"`` (``low``/``high``, optional ``log``), ``"int"`` (inclusive
    ``low``/``high``, optional ``log``) or ``"cat"`` (``choices``: str, int, float or bool).
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "cat"):
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.kind == "cat" and len(self.choices) < 2:
            raise ValueError(f"{self.name}: a categorical needs >= 2 choices")
        if self.kind != "cat" and not self.low < self.high:
            raise ValueError(f"{self.name}: low must be < high")
        if self.log and (self.kind == "cat" or self.low <= 0):
            raise ValueError(f"{self.name}: log scale needs a positive numeric range")

    def clip(self, value: Any) -> Any:
        """Bring a peer's proposal back into the domain (int rounding, float bounds)."""
        if self.kind == "cat":
            if value not in self.choices:
                raise ValueError(f"{self.name}: {value!r} is not one of {self.choices}")
            return value
        if self.kind == "int":
            v = int(round(float(value)))
            return int(min(max(v, int(self.low)), int(self.high)))
        return float(min(max(float(value), self.low), self.high))

    def unit(self, value: Any) -> float:
        """Position of a numeric value in [0, 1] (log-scaled where declared)."""
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(value) - lo) / (hi - lo)
        return (float(value) - self.low) / (self.high - self.low)


def F(name: str, low: float, high: float, log: bool = False) -> Param:
    return Param(name, "float", low, high, log)


def I(name: str, low: int, high: int, log: bool = False) -> Param:  # noqa: E743
    return Param(name, "int", low, high, log)


def C(name: str, *choices: Any) -> Param:
    return Param(name, "cat", choices=tuple(choices))


def describe(space: tuple[Param, ...]) -> str:
    """Short text such as ``4 float (2 log), 2 int, 1 cat``."""
    n_f = sum(p.kind == "float" for p in space)
    n_i = sum(p.kind == "int" for p in space)
    n_c = sum(p.kind == "cat" for p in space)
    n_log = sum(p.log for p in space)
    parts = []
    if n_f:
        parts.append(f"{n_f} float")
    if n_i:
        parts.append(f"{n_i} int")
    if n_c:
        parts.append(f"{n_c} cat")
    txt = ", ".join(parts)
    if n_log:
        txt += f" ({n_log} log)"
    return txt
