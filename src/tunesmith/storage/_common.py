"""Helpers shared by storage backends."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from tunesmith.exceptions import SpaceError, TunesmithError
from tunesmith.space import Distribution
from tunesmith.trial import FrozenTrial, TrialState

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def external_params(
    params: Mapping[str, float], dists: Mapping[str, Distribution]
) -> Mapping[str, Any]:
    return MappingProxyType({n: dists[n].to_external(v) for n, v in params.items()})


def build_frozen(
    *,
    number: int,
    trial_id: int,
    state: int,
    values: Sequence[float] | None,
    params: Mapping[str, float],
    dists: Mapping[str, Distribution],
    intermediate: Mapping[int, Sequence[float]] | None,
    user_attrs: Mapping[str, Any] | None,
    system_attrs: Mapping[str, Any] | None,
    datetime_start: float | None,
    datetime_complete: float | None,
    cpu_time: float | None,
    worker: str | None,
    heartbeat: float | None,
    retries: int,
    error: str | None,
) -> FrozenTrial:
    return FrozenTrial(
        number=number,
        trial_id=trial_id,
        state=TrialState(state),
        values=None if values is None else tuple(values),
        params=external_params(params, dists),
        distributions=MappingProxyType(dict(dists)),
        intermediate=MappingProxyType({k: tuple(v) for k, v in (intermediate or {}).items()}),
        user_attrs=MappingProxyType(dict(user_attrs or {})),
        system_attrs=MappingProxyType(dict(system_attrs or {})),
        datetime_start=datetime_start,
        datetime_complete=datetime_complete,
        cpu_time=cpu_time,
        worker=worker,
        heartbeat=heartbeat,
        retries=retries,
        error=error,
    )


def check_json(what: str, value: Any) -> str:
    """Serialize ``value`` to JSON or raise an error naming the attribute."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TunesmithError(
            f"{what} must be JSON-serializable (numbers, strings, lists, dicts): {exc}"
        ) from None


def check_finished_values(values: Sequence[float] | None, state: TrialState) -> None:
    if state == TrialState.COMPLETE:
        if values is None:
            raise ValueError("a COMPLETE trial needs values")
        for v in values:
            if not math.isfinite(v):
                raise ValueError(f"a COMPLETE trial needs finite values, got {list(values)}")


def check_params(params: Mapping[str, float], dists: Mapping[str, Distribution]) -> None:
    missing = set(params) - set(dists)
    if missing:
        raise SpaceError(f"parameters {sorted(missing)} have no distribution")


def best_of(values: Sequence[tuple[float, ...]], direction: str) -> tuple[float, ...] | None:
    if not values:
        return None
    key = (lambda v: v[0]) if direction == "minimize" else (lambda v: -v[0])
    return min(values, key=key)


def not_found_message(name: str, existing: list[str]) -> str:
    if not existing:
        return f"no study named {name!r}: this storage has no studies yet"
    shown = ", ".join(repr(n) for n in sorted(existing)[:20])
    more = "" if len(existing) <= 20 else f" (and {len(existing) - 20} more)"
    return f"no study named {name!r}; existing studies: {shown}{more}"
