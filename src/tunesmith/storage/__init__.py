"""Storage backends and :func:`get_storage`, which turns a URL or path into one."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from tunesmith.exceptions import StorageError
from tunesmith.storage.base import Storage, StudyRecord, StudySummary
from tunesmith.storage.memory import InMemoryStorage

__all__ = [
    "InMemoryStorage",
    "SQLStorage",
    "Storage",
    "StudyRecord",
    "StudySummary",
    "get_storage",
    "normalize_url",
]

_cache: dict[tuple[int, str], Storage] = {}
_cache_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "SQLStorage":  # imported lazily: it pulls in SQLAlchemy
        from tunesmith.storage.sql import SQLStorage

        return SQLStorage
    raise AttributeError(name)


def normalize_url(url: str) -> str:
    """Turn a storage argument into an SQLAlchemy URL.

    * ``"studies.db"``, ``"./runs/x.sqlite"`` (a path): ``sqlite:///<absolute path>``
    * ``"sqlite:///..."``: unchanged
    * ``"postgresql://..."`` / ``"postgres://..."``: the psycopg 3 driver is selected

    Raises:
        StorageError: for an unsupported scheme or a path whose directory is missing.
    """
    url = url.strip()
    if not url:
        raise StorageError("the storage URL is empty; give a file path or a database URL")
    if "://" not in url:
        path = Path(url).expanduser()
        parent = path.resolve().parent
        if not parent.is_dir():
            raise StorageError(
                f"cannot create the SQLite file {url!r}: directory {str(parent)!r} does not "
                "exist; create it first or choose another path"
            )
        if path.is_dir():
            raise StorageError(
                f"storage path {url!r} is a directory; give a file name such as studies.db"
            )
        return f"sqlite:///{path.resolve()}"
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0].lower()
    if base == "sqlite":
        file = rest[1:] if rest.startswith("/") else rest
        if file and file != ":memory:" and not file.startswith("/") and "?" not in file:
            # sqlite:///relative.db: anchor it so that one file has one URL (and one cache).
            return f"{scheme}:///{Path(file).resolve()}"
        return url
    if base in ("postgresql", "postgres"):
        driver = scheme.split("+", 1)[1] if "+" in scheme else None
        if driver is None:
            driver = _pg_driver()
        return f"postgresql+{driver}://{rest}"
    raise StorageError(
        f"unsupported storage URL scheme {scheme!r} in {url!r}; use a file path "
        "(studies.db), sqlite:///path/to/file.db or postgresql://user@host:5432/dbname"
    )


def _pg_driver() -> str:
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        return "psycopg"
    if importlib.util.find_spec("psycopg2") is not None:
        return "psycopg2"
    raise StorageError(
        "PostgreSQL storage needs a driver that is not installed; run: "
        'pip install "tunesmith[postgresql]"'
    )


def get_storage(storage: str | os.PathLike[str] | Storage | None) -> Storage:
    """Return a storage for ``storage``: None or ``":memory:"`` (in memory), a path
    (SQLite file), an SQLAlchemy URL, or a :class:`Storage` (returned as is).

    SQL storages are cached per process and URL, so repeated calls share one pool.

    Example:
        >>> get_storage(None).url
        ':memory:'
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if not isinstance(storage, str):
        raise StorageError(f"storage must be a path, a URL or a Storage, got {storage!r}")
    if storage.strip() == ":memory:":
        return InMemoryStorage()
    url = normalize_url(storage)
    key = (os.getpid(), url)
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            from tunesmith.storage.sql import SQLStorage

            found = SQLStorage(url)
            _cache[key] = found
        return found


def forget_cached(url: str) -> None:
    """Drop a cached SQL storage (used after upgrades and in tests)."""
    with _cache_lock:
        for key in [k for k in _cache if k[1] == url]:
            _cache.pop(key).close()
