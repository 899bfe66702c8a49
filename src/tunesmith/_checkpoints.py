"""Checkpoint files of trials: where they live, atomic writes, and inheritance by retries.

Layout under a root directory (see :func:`checkpoint_root`)::

    <root>/<study name>-<study id>/trial-<number>/v000003/   the latest checkpoint
                                                  .tmp-<hex>/ a checkpoint being written

A checkpoint is written into a ``.tmp-*`` folder and renamed to the next ``v*``
name only when complete, so every ``v*`` folder is whole: a process killed while
writing leaves the previous checkpoint as the latest. Older versions are removed
after the rename.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import CheckpointError

if TYPE_CHECKING:
    from tunesmith.storage.base import Storage

ENV_VAR = "TUNESMITH_ARTIFACTS"
STATE_FILE = "state.pkl"
_VERSION = re.compile(r"^v(\d+)$")
_MAX_LINKS = 100

_temp_roots: weakref.WeakKeyDictionary[Storage, Path] = weakref.WeakKeyDictionary()
_temp_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class CheckpointLocation:
    """Where one trial writes its checkpoints and where it may read inherited ones.

    Sent to worker processes with each trial (it is small and picklable).

    Attributes:
        trial_dir: this trial's folder, or None when the study has no checkpoint root.
        sources: folders of the trials this one continues (the trial it retries, that
            trial's own source, ...), nearest first.
        problem: why there is no root (an error message for the user), else None.
    """

    trial_dir: Path | None
    sources: tuple[Path, ...] = ()
    problem: str | None = None

    def require_dir(self) -> Path:
        """This trial's folder; raises :class:`CheckpointError` saying why there is none."""
        if self.trial_dir is None:
            raise CheckpointError(self.problem or "this trial has no checkpoint storage")
        return self.trial_dir

    def checked(self) -> CheckpointLocation:
        """This location, after checking that the study has a checkpoint root."""
        self.require_dir()
        return self


def _temp_root(storage: Storage) -> Path:
    """A temporary folder that lives as long as ``storage`` (in-memory studies).

    Only named here; it is created by the first checkpoint written, so studies that
    save none leave nothing behind."""
    with _temp_lock:
        found = _temp_roots.get(storage)
        if found is None:
            name = f"tunesmith-checkpoints-{os.getpid()}-{uuid.uuid4().hex[:16]}"
            found = Path(tempfile.gettempdir()) / name
            weakref.finalize(storage, shutil.rmtree, str(found), True)
            _temp_roots[storage] = found
        return found


def checkpoint_root(storage: Storage, artifact_dir: str | os.PathLike[str] | None) -> Path | str:
    """The root folder of a storage's checkpoints, or a message saying why there is none.

    Order: an explicit ``artifact_dir``; the storage's own place (beside a SQLite file,
    a temporary folder for in-memory storages); the ``TUNESMITH_ARTIFACTS`` variable.
    """
    if artifact_dir is not None:
        return Path(artifact_dir).expanduser().resolve()
    from tunesmith.storage.memory import InMemoryStorage

    if isinstance(storage, InMemoryStorage):
        return _temp_root(storage)
    dialect = getattr(storage, "dialect", None)
    if dialect == "sqlite":
        import sqlalchemy as sa

        database = sa.engine.make_url(storage.url).database
        if database in (None, "", ":memory:"):
            return _temp_root(storage)
        return Path(f"{Path(database).resolve()}.checkpoints")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    kind = "PostgreSQL" if dialect == "postgresql" else type(storage).__name__
    return (
        f"this study's storage ({kind}) has no folder for checkpoint files. Give one "
        "that every worker can reach: create_study(..., artifact_dir='/shared/checkpoints') "
        f"(stored with the study), load_study(..., artifact_dir=...), or the environment "
        f"variable {ENV_VAR}=/shared/checkpoints"
    )


def study_dir(root: Path, name: str, study_id: int) -> Path:
    """The folder of one study's checkpoints under ``root``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "study"
    return root / f"{slug[:80]}-{study_id}"


def trial_dir(study_folder: Path, number: int) -> Path:
    return study_folder / f"trial-{number}"


# -- reading ---------------------------------------------------------------------------
def _versions(folder: Path) -> list[tuple[int, Path]]:
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for e in entries:
        m = _VERSION.match(e.name)
        if m and e.is_dir():
            found.append((int(m.group(1)), Path(e.path)))
    found.sort()
    return found


def latest_in(folder: Path) -> Path | None:
    """The newest complete checkpoint folder of one trial, or None."""
    found = _versions(folder)
    return found[-1][1] if found else None


def resolve(location: CheckpointLocation) -> Path | None:
    """The checkpoint a trial should read: its own latest, else the nearest inherited one."""
    folders = ([location.trial_dir] if location.trial_dir is not None else []) + list(
        location.sources
    )
    for folder in folders:
        found = latest_in(folder)
        if found is not None:
            return found
    return None


def load_object(location: CheckpointLocation, default: Any = None) -> Any:
    """Unpickle the object of the checkpoint :func:`resolve` finds (``default`` if none)."""
    for _ in range(5):
        path = resolve(location)
        if path is None:
            return default
        try:
            with open(path / STATE_FILE, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            if path.exists():
                raise CheckpointError(
                    f"the checkpoint {str(path)!r} holds files written with trial.checkpoint(), "
                    "not an object saved with trial.save_checkpoint(); read its files from "
                    "trial.latest_checkpoint instead"
                ) from None
            # A newer version replaced it while we looked: read that one.
    raise CheckpointError(f"the checkpoints of {str(location.trial_dir)!r} keep changing")


# -- writing ---------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(folder: Path, tmp: Path) -> Path:
    """Rename a finished ``.tmp-*`` folder to the next version; drop older versions."""
    while True:
        found = _versions(folder)
        n = found[-1][0] + 1 if found else 1
        target = folder / f"v{n:06d}"
        try:
            os.rename(tmp, target)
        except OSError:
            if target.exists():  # another writer took this number: take the next
                continue
            raise
        break
    _fsync_dir(folder)
    for _, old in _versions(folder):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    for entry in folder.glob(".tmp-*"):
        # left behind by a writer that was killed mid-write
        if entry != tmp:
            shutil.rmtree(entry, ignore_errors=True)
    return target


@contextlib.contextmanager
def writing(location: CheckpointLocation) -> Iterator[Path]:
    """Yield an empty folder; when the block ends without error it becomes the latest
    checkpoint, in one rename. On an error the folder is removed and the previous
    checkpoint stays."""
    folder = location.require_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the checkpoint folder {str(folder)!r}: {exc}. Choose a writable "
            f"place with create_study(..., artifact_dir=...) or {ENV_VAR}"
        ) from exc
    tmp = folder / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _commit(folder, tmp)


def save_object(location: CheckpointLocation, obj: Any) -> Path:
    """Pickle ``obj`` into a new checkpoint of the trial; return its folder."""
    with writing(location) as tmp:
        try:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise CheckpointError(
                f"save_checkpoint could not pickle {type(obj).__name__}: {exc}. Save "
                "picklable state (e.g. model.state_dict()), or write files yourself with "
                "'with trial.checkpoint() as folder: ...'"
            ) from exc
        with open(tmp / STATE_FILE, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return latest_in(location.require_dir()) or tmp


def _link_or_copy(src: str, dst: str) -> None:
    # Committed checkpoint files are never changed in place, so a hard link is a safe,
    # instant copy; other file systems (or devices) get a real copy.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_latest(sources: list[Path], target: CheckpointLocation) -> Path | None:
    """Copy the newest checkpoint of the first of ``sources`` that has one into a new
    checkpoint of ``target``; None if none has a checkpoint."""
    for attempt in range(50):
        src = resolve(CheckpointLocation(None, tuple(sources)))
        if src is None:
            return None
        try:
            with writing(target) as tmp:
                shutil.copytree(src, tmp, copy_function=_link_or_copy, dirs_exist_ok=True)
        except (FileNotFoundError, shutil.Error):
            if src.exists():
                raise
            # The source saved a newer version while we copied: copy that one.
            time.sleep(min(0.001 * 2**attempt, 0.05))
            continue
        return latest_in(target.require_dir())
    raise CheckpointError(
        f"could not copy a checkpoint from {[str(s) for s in sources]}: it was replaced "
        "by a newer one during every attempt"
    )


def remove_tree(folder: Path) -> list[str]:
    """Delete a folder tree; return the paths that could not be removed."""
    problems: list[str] = []

    def onerror(_func: Any, path: str, info: Any) -> None:
        exc = info[1] if isinstance(info, tuple) else info
        if not isinstance(exc, FileNotFoundError):
            problems.append(f"{path}: {exc}")

    if folder.exists():
        if sys.version_info >= (3, 12):
            shutil.rmtree(folder, onexc=onerror)
        else:
            shutil.rmtree(folder, onerror=onerror)
    return problems
