"""Build samplers and pruners from the names and descriptions stored with a study."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.exceptions import TunesmithError


def build(
    kind: str, registry: Mapping[str, type], spec: Any, *, expected: str, dashes: bool = False
) -> Any:
    """Instantiate ``registry[name](**args)`` from ``spec``: a name or a mapping with
    ``"name"`` and the class's arguments.

    Args:
        kind: what is being built (``"sampler"``, ``"pruner"``), for messages; registry
            keys ending in it (``"tpesampler"``) are aliases left out of the known list.
        expected: what ``spec`` may be, for the message when it is neither.
        dashes: treat ``-`` in names as ``_``.

    Raises:
        TunesmithError: for a malformed spec, an unknown name or bad arguments.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise TunesmithError(f"a {kind} must be {expected}, got {spec!r}")
    args = dict(spec)
    name = str(args.pop("name")).lower()
    if dashes:
        name = name.replace("-", "_")
    cls = registry.get(name)
    if cls is None:
        known = sorted(k for k in registry if not k.endswith(kind))
        raise TunesmithError(f"unknown {kind} {spec['name']!r}; known {kind}s: {known}")
    try:
        return cls(**args)
    except TypeError as exc:
        raise TunesmithError(f"bad arguments for {kind} {spec['name']!r}: {exc}") from None
