"""Keep BLAS single-threaded during a sampler's model step."""

from __future__ import annotations

import contextlib
from typing import Any

_controller: Any = None


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread for the duration of a ``with`` block.

    Sampler models work on small matrices (tens to thousands of rows) with many
    short BLAS calls; waking BLAS worker threads for each costs more than it saves,
    by an order of magnitude on a busy 2-core machine, and makes timings erratic.
    The controller is built once (about 20 microseconds per use afterwards). Without
    threadpoolctl this is a no-op.
    """
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional at run time
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")  # type: ignore[no-any-return]
