"""Search spaces: parameter distributions and their unit-hypercube encoding.

Every parameter has three representations:

* **external**: the value the objective sees (``0.01``, ``7``, ``"rbf"``);
* **internal**: a float stored in the history and the storage: the number
  itself for :class:`Float` and :class:`Int`, the choice index for
  :class:`Categorical`;
* **unit**: a float in ``[0, 1]`` in which model-based samplers work. Numeric
  parameters map linearly (or logarithmically) onto it, with each allowed value
  of a stepped/integer parameter owning an equal slice of the interval.
  Categorical parameters are modelled by their index, not by a unit value, but
  :meth:`Categorical.from_unit` still maps a uniform number to a uniform choice
  so that random and quasi-random samplers treat every dimension alike.

A :class:`Space` is an ordered set of named distributions plus optional
conditions (``gamma`` only when ``kernel == "rbf"``). Define-by-run objectives
(``trial.suggest_*``) and declared spaces end in the same distributions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

import numpy as np

from tunesmith.exceptions import SpaceError

__all__ = [
    "Categorical",
    "Distribution",
    "Float",
    "Int",
    "Space",
    "distribution_from_dict",
    "distribution_from_json",
]

_CHOICE_TYPES = (type(None), bool, int, float, str)


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SpaceError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SpaceError(f"{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Float:
    """A real-valued parameter in ``[low, high]``.

    Args:
        low: lower bound (inclusive).
        high: upper bound (inclusive); must be ``>= low``.
        log: sample on a logarithmic scale (``low`` must be > 0).
        step: if given, only ``low + k * step`` values are allowed (not with ``log``).

    Example:
        >>> Float(1e-4, 1e-1, log=True).contains(0.01)
        True
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        low = _check_number("Float low", self.low)
        high = _check_number("Float high", self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if low > high:
            raise SpaceError(
                f"Float low={low} is greater than high={high}; swap them or fix the range"
            )
        if self.log and low <= 0:
            raise SpaceError(
                f"Float with log=True needs low > 0, got low={low}; "
                "use log=False or a positive lower bound"
            )
        if self.step is not None:
            step = _check_number("Float step", self.step)
            if step <= 0:
                raise SpaceError(f"Float step must be > 0, got {step}")
            if self.log:
                raise SpaceError("Float cannot have both log=True and a step; choose one")
            object.__setattr__(self, "step", step)
            # Snap high to the last reachable grid point, as the grid defines the space.
            n = math.floor((high - low) / step + 1e-9)
            object.__setattr__(self, "high", low + n * step)

    # -- conversions -----------------------------------------------------
    def to_internal(self, value: Any) -> float:
        return float(value)

    def to_external(self, internal: float) -> float:
        return float(internal)

    def contains(self, value: Any) -> bool:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not (
            self.low - 1e-12 * max(1.0, abs(self.low))
            <= v
            <= self.high + 1e-12 * max(1.0, abs(self.high))
        ):
            return False
        if self.step is not None:
            k = (v - self.low) / self.step
            return abs(k - round(k)) < 1e-8
        return True

    def single(self) -> bool:
        return self.low == self.high

    def _bounds(self) -> tuple[float, float]:
        """Transformed interval that maps onto [0, 1]."""
        if self.log:
            return math.log(self.low), math.log(self.high)
        if self.step is not None:
            return self.low - 0.5 * self.step, self.high + 0.5 * self.step
        return self.low, self.high

    def to_unit(self, internal: np.ndarray | float) -> np.ndarray:
        x = np.asarray(internal, dtype=float)
        lo, hi = self._bounds()
        if hi == lo:
            return np.full_like(x, 0.5)
        t = np.log(x) if self.log else x
        return np.clip((t - lo) / (hi - lo), 0.0, 1.0)

    def from_unit(self, u: np.ndarray | float) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo, hi = self._bounds()
        t = lo + u * (hi - lo)
        x = np.exp(t) if self.log else t
        if self.step is not None:
            x = self.low + np.round((x - self.low) / self.step) * self.step
        return np.clip(x, self.low, self.high)

    def value_at(self, u: float) -> float:
        """External value at unit position ``u`` (a fast scalar :meth:`from_unit`)."""
        u = 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
        lo, hi = self._bounds()
        t = lo + u * (hi - lo)
        x = math.exp(t) if self.log else t
        if self.step is not None:
            x = self.low + round((x - self.low) / self.step) * self.step
        return min(max(x, self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True, slots=True)
class Int:
    """An integer parameter in ``[low, high]``.

    Args:
        low: lower bound (inclusive).
        high: upper bound (inclusive).
        log: sample on a logarithmic scale (``low`` must be >= 1, step must be 1).
        step: spacing of the allowed values ``low, low + step, ...``.

    Example:
        >>> Int(1, 10).contains(3)
        True
    """

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        for nm in ("low", "high", "step"):
            v = getattr(self, nm)
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                if isinstance(v, float) and v.is_integer():
                    object.__setattr__(self, nm, int(v))
                    continue
                raise SpaceError(f"Int {nm} must be an integer, got {v!r}")
            object.__setattr__(self, nm, int(v))
        if self.low > self.high:
            raise SpaceError(
                f"Int low={self.low} is greater than high={self.high}; swap them or fix the range"
            )
        if self.step <= 0:
            raise SpaceError(f"Int step must be >= 1, got {self.step}")
        if self.log:
            if self.low < 1:
                raise SpaceError(
                    f"Int with log=True needs low >= 1, got low={self.low}; "
                    "use log=False or a positive lower bound"
                )
            if self.step != 1:
                raise SpaceError("Int cannot have both log=True and step != 1; choose one")
        n = (self.high - self.low) // self.step
        object.__setattr__(self, "high", self.low + n * self.step)

    def to_internal(self, value: Any) -> float:
        return float(value)

    def to_external(self, internal: float) -> int:
        return int(round(internal))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not v.is_integer() or not (self.low <= v <= self.high):
            return False
        return (int(v) - self.low) % self.step == 0

    def single(self) -> bool:
        return self.low == self.high

    def _bounds(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low - 0.5), math.log(self.high + 0.5)
        return self.low - 0.5 * self.step, self.high + 0.5 * self.step

    def to_unit(self, internal: np.ndarray | float) -> np.ndarray:
        x = np.asarray(internal, dtype=float)
        lo, hi = self._bounds()
        t = np.log(x) if self.log else x
        return np.clip((t - lo) / (hi - lo), 0.0, 1.0)

    def from_unit(self, u: np.ndarray | float) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo, hi = self._bounds()
        t = lo + u * (hi - lo)
        x = np.exp(t) if self.log else t
        x = self.low + np.round((x - self.low) / self.step) * self.step
        return np.clip(x, self.low, self.high)

    def value_at(self, u: float) -> int:
        """External value at unit position ``u`` (a fast scalar :meth:`from_unit`)."""
        u = 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
        lo, hi = self._bounds()
        t = lo + u * (hi - lo)
        x = math.exp(t) if self.log else t
        k = round((x - self.low) / self.step)
        return int(min(max(self.low + k * self.step, self.low), self.high))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step != 1:
            d["step"] = self.step
        return d


@dataclass(frozen=True, slots=True)
class Categorical:
    """A parameter taking one of a finite list of choices.

    Choices must be ``None``, ``bool``, ``int``, ``float`` or ``str`` so that
    they can be stored and compared across processes.

    Example:
        >>> Categorical(["rbf", "linear"]).to_internal("linear")
        1.0
    """

    choices: tuple[Any, ...]

    def __init__(self, choices: Sequence[Any]) -> None:
        if isinstance(choices, str | bytes) or not isinstance(choices, Sequence | np.ndarray):
            raise SpaceError(f"Categorical choices must be a list, got {choices!r}")
        choices = tuple(c.item() if isinstance(c, np.generic) else c for c in choices)
        if not choices:
            raise SpaceError("Categorical needs at least one choice, got an empty list")
        for c in choices:
            if not isinstance(c, _CHOICE_TYPES):
                raise SpaceError(
                    f"Categorical choice {c!r} has type {type(c).__name__}; choices must be "
                    "None, bool, int, float or str (map objects to names and back in the "
                    "objective)"
                )
            if isinstance(c, float) and math.isnan(c):
                raise SpaceError(
                    "Categorical choices cannot be NaN: NaN never equals itself, so it could "
                    "not be stored or compared; use None or a string such as 'nan'"
                )
        keys = [_choice_key(c) for c in choices]
        if len(set(keys)) != len(keys):
            raise SpaceError(f"Categorical choices must be distinct, got {list(choices)!r}")
        object.__setattr__(self, "choices", choices)

    def to_internal(self, value: Any) -> float:
        key = _choice_key(value)
        for i, c in enumerate(self.choices):
            if _choice_key(c) == key:
                return float(i)
        raise SpaceError(f"{value!r} is not one of the choices {list(self.choices)!r}")

    def to_external(self, internal: float) -> Any:
        return self.choices[int(internal)]

    def contains(self, value: Any) -> bool:
        key = _choice_key(value)
        return any(_choice_key(c) == key for c in self.choices)

    def single(self) -> bool:
        return len(self.choices) == 1

    @property
    def n_choices(self) -> int:
        return len(self.choices)

    def to_unit(self, internal: np.ndarray | float) -> np.ndarray:
        """Centre of the index's slice of [0, 1] (used only for display/Sobol round trips)."""
        x = np.asarray(internal, dtype=float)
        return (x + 0.5) / len(self.choices)

    def from_unit(self, u: np.ndarray | float) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        return np.minimum(np.floor(u * len(self.choices)), len(self.choices) - 1)

    def value_at(self, u: float) -> Any:
        """The choice at unit position ``u`` (a fast scalar :meth:`from_unit`)."""
        n = len(self.choices)
        return self.choices[min(max(int(u * n), 0), n - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


def _choice_key(value: Any) -> tuple[str, Any]:
    # True == 1 in Python; keep them apart so [1, True] are two choices.
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", float(value))
    return (type(value).__name__, value)


Distribution = Union[Float, Int, Categorical]  # noqa: UP007 - used at runtime


def distribution_from_dict(d: Mapping[str, Any]) -> Distribution:
    """Build a distribution from ``{"type": "float"|"int"|"categorical", ...}``.

    Raises:
        SpaceError: if the mapping does not describe a valid distribution.
    """
    if not isinstance(d, Mapping):
        raise SpaceError(f"a parameter must be a mapping with a 'type', got {d!r}")
    kind = str(d.get("type", "")).lower()
    extra = set(d) - {"type", "low", "high", "log", "step", "choices", "condition", "when"}
    if extra:
        raise SpaceError(f"unknown key(s) {sorted(extra)} in parameter {dict(d)!r}")
    try:
        if kind in ("float", "real", "uniform", "loguniform"):
            return Float(
                d["low"],
                d["high"],
                log=bool(d.get("log", kind == "loguniform")),
                step=d.get("step"),
            )
        if kind in ("int", "integer"):
            return Int(d["low"], d["high"], log=bool(d.get("log", False)), step=d.get("step", 1))
        if kind in ("categorical", "choice"):
            return Categorical(d["choices"])
    except KeyError as exc:
        raise SpaceError(f"parameter {dict(d)!r} is missing {exc.args[0]!r}") from None
    raise SpaceError(
        f"unknown parameter type {d.get('type')!r} in {dict(d)!r}; "
        "use 'float', 'int' or 'categorical'"
    )


@lru_cache(maxsize=4096)
def distribution_from_json(text: str) -> Distribution:
    """Parse a JSON-encoded distribution (cached: storages repeat the same few)."""
    return distribution_from_dict(json.loads(text))


def distribution_to_json(dist: Distribution) -> str:
    return _dist_json(dist)


@lru_cache(maxsize=4096)
def _dist_json(dist: Distribution) -> str:
    return json.dumps(dist.to_dict(), separators=(",", ":"))


def compatible(a: Distribution, b: Distribution) -> bool:
    """Whether values of ``a`` can be read as values of ``b`` (same kind and scale)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Categorical):
        return a == b
    return a.log == b.log and a.step == b.step  # type: ignore[union-attr]


Condition = Mapping[str, Any]


class Space(Mapping[str, Distribution]):
    """An ordered, declared search space with optional conditional parameters.

    Args:
        params: mapping of name to a distribution (``Float``, ``Int``,
            ``Categorical``) or to a dict such as ``{"type": "float", "low": 0,
            "high": 1}``. Dict entries may carry a ``condition``.
        conditions: mapping of a parameter name to ``{parent: allowed}``; the
            parameter is active only when every parent is active and its value is
            ``allowed`` (a value or a list of values). Parents must come earlier.

    Example:
        >>> space = Space(
        ...     {"kernel": Categorical(["rbf", "linear"]), "gamma": Float(1e-4, 1.0, log=True)},
        ...     conditions={"gamma": {"kernel": "rbf"}},
        ... )
        >>> space.is_active("gamma", {"kernel": "linear"})
        False
    """

    __slots__ = ("_conditions", "_dists", "_names")

    def __init__(
        self,
        params: Mapping[str, Distribution | Mapping[str, Any]],
        conditions: Mapping[str, Condition] | None = None,
    ) -> None:
        if not isinstance(params, Mapping):
            raise SpaceError(f"Space needs a mapping of name -> distribution, got {params!r}")
        dists: dict[str, Distribution] = {}
        conds: dict[str, dict[str, tuple[Any, ...]]] = {}
        for name, spec in params.items():
            if not isinstance(name, str) or not name:
                raise SpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if isinstance(spec, Float | Int | Categorical):
                dists[name] = spec
            elif isinstance(spec, Mapping):
                dists[name] = distribution_from_dict(spec)
                cond = spec.get("condition", spec.get("when"))
                if cond is not None:
                    conds[name] = _normalize_condition(name, cond)
            else:
                raise SpaceError(
                    f"parameter {name!r}: expected Float, Int, Categorical or a dict, got {spec!r}"
                )
        for name, cond in (conditions or {}).items():
            if name not in dists:
                raise SpaceError(f"condition given for unknown parameter {name!r}")
            conds[name] = _normalize_condition(name, cond)
        order = list(dists)
        for name, cond in conds.items():
            for parent, allowed in cond.items():
                if parent not in dists:
                    raise SpaceError(
                        f"parameter {name!r} is conditioned on {parent!r}, which is not in the space"
                    )
                if order.index(parent) >= order.index(name):
                    raise SpaceError(
                        f"parameter {name!r} is conditioned on {parent!r}, which must be "
                        "declared before it"
                    )
                pd = dists[parent]
                for a in allowed:
                    if not pd.contains(a):
                        raise SpaceError(
                            f"condition of {name!r} on {parent!r} uses {a!r}, which {parent!r} "
                            "can never take"
                        )
        self._dists = dists
        self._conditions = conds
        self._names = tuple(order)

    # Mapping protocol
    def __getitem__(self, name: str) -> Distribution:
        return self._dists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {d!r}" for n, d in self._dists.items())
        return f"Space({{{inner}}}, conditions={self._conditions!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Space)
            and self._names == other._names
            and self._dists == other._dists
            and self._conditions == other._conditions
        )

    def __hash__(self) -> int:
        return hash(self._names)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def conditions(self) -> Mapping[str, Mapping[str, tuple[Any, ...]]]:
        return self._conditions

    @property
    def is_conditional(self) -> bool:
        return bool(self._conditions)

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the (external) values of earlier parameters."""
        cond = self._conditions.get(name)
        if not cond:
            return True
        for parent, allowed in cond.items():
            if parent not in params or not self.is_active(parent, params):
                return False
            key = _choice_key(params[parent])
            if not any(_choice_key(a) == key for a in allowed):
                return False
        return True

    def from_unit(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Decode one point of the unit hypercube (one coordinate per parameter) to
        external values of the active parameters."""
        out: dict[str, Any] = {}
        for i, name in enumerate(self._names):
            if not self.is_active(name, out):
                continue
            d = self._dists[name]
            out[name] = d.to_external(float(d.from_unit(u[i])))
        return out

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`SpaceError` unless ``params`` is a full, valid assignment."""
        for name in self._names:
            active = self.is_active(name, params)
            if active and name not in params:
                raise SpaceError(f"parameter {name!r} is missing")
            if name in params and not self._dists[name].contains(params[name]):
                raise SpaceError(
                    f"value {params[name]!r} for {name!r} is outside {self._dists[name]!r}"
                )
        unknown = set(params) - set(self._names)
        if unknown:
            raise SpaceError(f"unknown parameter(s) {sorted(unknown)} for this space")

    def grid(self, n_points: int | None = None) -> list[dict[str, Any]]:
        """Every combination of values (with conditional parameters expanded only
        where active). Floats without a step need ``n_points``.

        Raises:
            SpaceError: if a continuous Float has no step and ``n_points`` is None.
        """
        axes: dict[str, list[Any]] = {}
        for name, d in self._dists.items():
            axes[name] = _axis_values(name, d, n_points)
        combos: list[dict[str, Any]] = [{}]
        for name in self._names:
            nxt: list[dict[str, Any]] = []
            for c in combos:
                if self.is_active(name, c):
                    nxt.extend({**c, name: v} for v in axes[name])
                else:
                    nxt.append(c)
            combos = nxt
        return combos

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for name in self._names:
            d = self._dists[name].to_dict()
            if name in self._conditions:
                d["condition"] = {p: list(v) for p, v in self._conditions[name].items()}
            out[name] = d
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Space:
        """Build a space from :meth:`to_dict` output or a config file's ``space:`` section."""
        return cls(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Space:
        return cls(json.loads(text))


def _normalize_condition(name: str, cond: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(cond, Mapping) or not cond:
        raise SpaceError(
            f"condition of {name!r} must be a mapping like {{'kernel': ['rbf']}}, got {cond!r}"
        )
    out: dict[str, tuple[Any, ...]] = {}
    for parent, allowed in cond.items():
        if isinstance(allowed, list | tuple | set | frozenset):
            vals = tuple(allowed)
        else:
            vals = (allowed,)
        if not vals:
            raise SpaceError(f"condition of {name!r} on {parent!r} allows no value")
        out[str(parent)] = vals
    return out


def _axis_values(name: str, d: Distribution, n_points: int | None) -> list[Any]:
    if isinstance(d, Categorical):
        return list(d.choices)
    if isinstance(d, Int):
        n = (d.high - d.low) // d.step + 1
        if n_points is not None and n > n_points:
            u = np.linspace(0, 1, n_points)
            return sorted({int(v) for v in d.from_unit(u)})
        return list(range(d.low, d.high + 1, d.step))
    if d.step is not None:
        n = int(round((d.high - d.low) / d.step)) + 1
        if n_points is None or n <= n_points:
            return [float(d.low + i * d.step) for i in range(n)]
    if n_points is None:
        raise SpaceError(
            f"parameter {name!r} is a continuous Float; give it a step or pass n_points "
            "to build a grid"
        )
    if d.log:
        return [float(v) for v in np.geomspace(d.low, d.high, n_points)]
    return [float(v) for v in np.linspace(d.low, d.high, n_points)]
