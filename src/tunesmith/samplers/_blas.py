"""Keep BLAS single-threaded during a sampler's model step."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

_libs: list[Any] | None = None
_scanned_with_scipy = False


def _blas_libs() -> list[Any]:
    """The loaded BLAS libraries (threadpoolctl controllers), scanned once, and again
    after SciPy's linear algebra (which may bring its own OpenBLAS) is imported."""
    global _libs, _scanned_with_scipy
    with_scipy = "scipy.linalg" in sys.modules
    if _libs is None or (with_scipy and not _scanned_with_scipy):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - optional at run time
            _libs = []
        else:
            libs = ThreadpoolController().lib_controllers
            _libs = [c for c in libs if c.user_api == "blas"]
        _scanned_with_scipy = with_scipy
    return _libs


class _OneThread:
    """Set every BLAS library to one thread; restore each one's count on exit."""

    __slots__ = ("_saved",)

    def __enter__(self) -> None:
        saved = []
        for lib in _blas_libs():
            n = lib.num_threads
            if n != 1:
                lib.set_num_threads(1)
                saved.append((lib, n))
        self._saved = saved

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for lib, n in self._saved:
            lib.set_num_threads(n)


def single_threaded_blas() -> _OneThread:
    """Limit BLAS to one thread for the duration of a ``with`` block.

    Sampler models work on small matrices (tens to thousands of rows) with many
    short BLAS calls; waking BLAS worker threads for each costs more than it saves,
    by an order of magnitude on a busy 2-core machine, and makes timings erratic.
    The libraries are found once (threadpoolctl); each use then costs two calls
    into each library (a few microseconds). Without threadpoolctl this is a no-op.
    """
    return _OneThread()
