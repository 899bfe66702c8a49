"""SQL storage through SQLAlchemy 2: a SQLite file (the embedded default) or PostgreSQL.

Concurrency:

* SQLite runs in WAL mode; every read-modify-write transaction starts with
  ``BEGIN IMMEDIATE`` so two processes never both read a WAITING trial and claim it.
* PostgreSQL claims queued trials with ``FOR UPDATE SKIP LOCKED``; trial numbers and
  the change sequence come from an ``UPDATE ... RETURNING`` on the study row, whose
  lock orders concurrent writers.

Connection loss (PostgreSQL): a transaction that fails because the connection broke
or the server cancelled it is run again on a new connection, with backoff, for up to
``retry_seconds``; then a :class:`StorageError` says what failed. A write whose
connection broke while it was committing may or may not have been saved: it is
retried only where running it twice is harmless (heartbeats, reports, finishing a
trial: a second attempt that finds the trial finished with the same result returns
it). Sockets give up after ``tcp_user_timeout`` without acknowledgements, and the
server ends a session that stays idle inside a transaction (a client cut off while
holding row locks) after ``idle_in_transaction_timeout``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache, wraps
from typing import Any, TypeVar

from tunesmith.exceptions import (
    DuplicatedStudyError,
    SchemaVersionError,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
)
from tunesmith.space import Distribution, distribution_from_dict, distribution_to_json
from tunesmith.storage._common import (
    best_of,
    build_frozen,
    check_finished_values,
    check_json,
    check_params,
    not_found_message,
)
from tunesmith.storage.base import Storage, StudyRecord, StudySummary
from tunesmith.trial import FrozenTrial, TrialState

__all__ = ["SQLStorage"]

logger = logging.getLogger("tunesmith.storage")

_T = TypeVar("_T")

_FINISHED = (int(TrialState.COMPLETE), int(TrialState.PRUNED), int(TrialState.FAILED))

#: libpq connection settings used unless the URL sets them: give up on a connection
#: attempt after 10 s, probe idle connections with TCP keepalives, and let a socket
#: whose data stays unacknowledged for 30 s fail (instead of TCP's ~15 minutes), so
#: that a network partition turns into an error that is retried on a new connection.
PG_CONNECT_DEFAULTS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}

#: default seconds to keep retrying a transaction whose connection broke
#: (``TUNESMITH_DB_RETRY_SECONDS`` overrides it)
DEFAULT_RETRY_SECONDS = 60.0


class ConnectionLostError(StorageError):
    """A transaction failed because its connection broke or the server cancelled it.

    Attributes:
        maybe_committed: the failure came while committing, so the transaction may
            have been saved.
    """

    def __init__(self, message: str, maybe_committed: bool) -> None:
        super().__init__(message)
        self.maybe_committed = maybe_committed


def _retrying(idempotent: bool) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Run a storage method through :meth:`SQLStorage._retry` (see there)."""

    def decorate(method: Callable[..., _T]) -> Callable[..., _T]:
        @wraps(method)
        def wrapper(self: SQLStorage, *args: Any, **kwargs: Any) -> _T:
            return self._retry(method.__name__, lambda: method(self, *args, **kwargs), idempotent)

        return wrapper

    return decorate


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@lru_cache(maxsize=2048)
def _parse_dists(text: str) -> dict[str, Distribution]:
    return {n: distribution_from_dict(d) for n, d in json.loads(text).items()}


def _dists_json(dists: Mapping[str, Distribution]) -> str:
    return (
        "{" + ",".join(f"{json.dumps(n)}:{distribution_to_json(d)}" for n, d in dists.items()) + "}"
    )


class SQLStorage(Storage):
    """Storage in a SQL database (SQLite file or PostgreSQL server).

    Args:
        url: an SQLAlchemy URL (``sqlite:///studies.db``, ``postgresql://user@host/db``).
        engine_kwargs: extra arguments for :func:`sqlalchemy.create_engine`.
        create: create the schema when the database is empty.
        retry_seconds: how long to retry a transaction whose connection broke
            (PostgreSQL; default ``$TUNESMITH_DB_RETRY_SECONDS`` or 60).
        idle_in_transaction_timeout: seconds after which the PostgreSQL server ends a
            session of this storage that sits idle inside a transaction, releasing its
            locks (set only when the server has no such limit; 0 leaves it alone).

    Raises:
        StorageError: if the database cannot be reached or opened.
        SchemaVersionError: if the schema is older or newer than this tunesmith.

    Example:
        >>> storage = SQLStorage("sqlite:///:memory:")
        >>> storage.create_study("demo", ["minimize"]).name
        'demo'
    """

    def __init__(
        self,
        url: str,
        engine_kwargs: Mapping[str, Any] | None = None,
        create: bool = True,
        *,
        retry_seconds: float | None = None,
        idle_in_transaction_timeout: float = 60.0,
    ) -> None:
        import sqlalchemy as sa

        from tunesmith.storage import _schema

        self._sa = sa
        self._t = _schema
        self.url = url
        #: the URL with any password masked, for messages
        self.safe_url = _mask(url)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        url_obj = sa.engine.make_url(url)
        self.dialect = url_obj.get_backend_name()
        kwargs = dict(engine_kwargs or {})
        if self.dialect == "sqlite":
            kwargs.setdefault("connect_args", {}).setdefault("timeout", 60.0)
            kwargs["connect_args"]["check_same_thread"] = False
            if url_obj.database in (None, "", ":memory:"):
                kwargs.setdefault("poolclass", sa.pool.StaticPool)
        else:
            kwargs.setdefault("pool_pre_ping", True)
            if self.dialect == "postgresql":
                connect_args = kwargs["connect_args"] = dict(kwargs.get("connect_args") or {})
                for key, value in _pg_connect_defaults(url_obj.get_driver_name()).items():
                    if key not in url_obj.query:
                        connect_args.setdefault(key, value)
        if retry_seconds is None:
            env = os.environ.get("TUNESMITH_DB_RETRY_SECONDS", "").strip()
            try:
                retry_seconds = float(env) if env else DEFAULT_RETRY_SECONDS
            except ValueError:
                raise StorageError(
                    f"TUNESMITH_DB_RETRY_SECONDS must be a number of seconds, got {env!r}"
                ) from None
        #: seconds to keep retrying a transaction whose connection broke
        self.retry_seconds = float(retry_seconds)
        self._idle_txn_timeout = float(idle_in_transaction_timeout)
        # SQLite has no network between us and the data: its errors are not transient.
        self._retry_enabled = self.dialect != "sqlite"
        try:
            self._engine = sa.create_engine(url_obj, **kwargs)
        except Exception as exc:  # missing driver, malformed URL
            raise StorageError(_driver_hint(url, exc)) from exc
        self._dbapi_errors: tuple[type[BaseException], ...] = ()
        dbapi = getattr(self._engine.dialect, "dbapi", None)
        if dbapi is not None:
            self._dbapi_errors = (dbapi.OperationalError, dbapi.InterfaceError)
        if self.dialect == "sqlite":
            self._install_sqlite_hooks()
        elif self.dialect == "postgresql":
            self._install_pg_hooks()
        self._check_schema(create)

    # -- engine set-up -----------------------------------------------------------
    def _install_sqlite_hooks(self) -> None:
        sa = self._sa

        @sa.event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 60000")
            cur.execute("PRAGMA foreign_keys = ON")
            try:
                cur.execute("PRAGMA journal_mode = WAL")
            except Exception:  # read-only or network file systems
                pass
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        local = self._local

        @sa.event.listens_for(self._engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Straight to the driver: SQLAlchemy's execution path costs more than BEGIN.
            conn.connection.dbapi_connection.execute(
                "BEGIN IMMEDIATE" if getattr(local, "write", False) else "BEGIN"
            )

    def _install_pg_hooks(self) -> None:
        timeout_ms = int(self._idle_txn_timeout * 1000)
        if timeout_ms <= 0:
            return

        @self._sa.event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            # A client cut off inside a transaction (between a statement and COMMIT)
            # keeps its row locks (the study row: every writer waits) until the server
            # notices; this makes the server end such a session. Our transactions never
            # wait on user code, so a long idle transaction means a lost client.
            cur = dbapi_conn.cursor()
            cur.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %(v)s, false) "
                "WHERE current_setting('idle_in_transaction_session_timeout') IN ('0', '0ms')",
                {"v": f"{timeout_ms}ms"},
            )
            cur.close()
            dbapi_conn.commit()

    # Each thread keeps one connection between calls: checking one out of the pool per
    # call costs more than a SQLite transaction. A broken connection is dropped and the
    # next call opens a new one (database restarts and network blips heal by themselves).
    def _connection(self) -> tuple[Any, bool]:
        loc = self._local
        conn = getattr(loc, "conn", None)
        if conn is not None and (loc.pid != os.getpid() or conn.closed or conn.invalidated):
            conn = None
        if conn is None:
            conn = self._engine.connect()
            loc.conn, loc.pid = conn, os.getpid()
        if conn.in_transaction():  # re-entrant use on this thread: take a separate one
            return self._engine.connect(), True
        return conn, False

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                pass

    def _is_connection_error(self, exc: BaseException) -> bool:
        """A broken connection or a transaction the server cancelled (never committed,
        except when the failure came while committing)."""
        sa = self._sa
        if isinstance(exc, sa.exc.DBAPIError):
            return isinstance(exc, sa.exc.OperationalError) or exc.connection_invalidated
        # Prebuilt statements run on the DBAPI cursor: their errors arrive unwrapped.
        return isinstance(exc, self._dbapi_errors)

    @contextmanager
    def _txn(self, write: bool, durable: bool = True) -> Iterator[Any]:
        sa = self._sa
        try:
            conn, temporary = self._connection()
        except sa.exc.DBAPIError as exc:
            raise ConnectionLostError(self._describe(exc), maybe_committed=False) from exc
        self._local.write = write
        committing = False
        try:
            with conn.begin():
                if not durable and self.dialect == "postgresql":
                    # Commit without waiting for the WAL flush: a database *server* crash
                    # may lose the last fraction of a second of these writes (never a
                    # finished trial's result, which always commits durably).
                    conn.connection.dbapi_connection.execute("SET LOCAL synchronous_commit = off")
                yield conn
                committing = True
        except Exception as exc:
            if self._is_connection_error(exc):
                if temporary:
                    _invalidate(conn)
                else:
                    self._drop_connection()
                raise ConnectionLostError(self._describe(exc), committing) from exc
            raise
        finally:
            self._local.write = False
            if temporary:
                conn.close()

    def _retry(self, what: str, attempt: Callable[[], _T], idempotent: bool) -> _T:
        """Run ``attempt`` (one whole transaction), again on a new connection while it
        fails with a broken connection, with backoff, for up to ``retry_seconds``.

        A transaction that broke while committing is run again only when ``idempotent``;
        otherwise the caller learns that it may or may not have been saved.
        """
        if not self._retry_enabled:
            return attempt()
        start = time.monotonic()
        delay = 0.05
        tries = 0
        while True:
            tries += 1
            try:
                result = attempt()
            except ConnectionLostError as exc:
                if exc.maybe_committed and not idempotent:
                    raise StorageError(
                        f"{what}: the connection broke while the change was being committed, "
                        f"so it may or may not have been saved: {exc}"
                    ) from exc
                waited = time.monotonic() - start
                if waited >= self.retry_seconds:
                    raise StorageError(
                        f"{what}: gave up after {tries} attempt(s) over {waited:.1f}s "
                        f"(retry_seconds={self.retry_seconds:g}, set with "
                        f"TUNESMITH_DB_RETRY_SECONDS): {exc}"
                    ) from exc
                if tries == 1:
                    logger.warning(
                        "lost the database connection during %s (%s); reconnecting and "
                        "retrying for up to %gs",
                        what,
                        _first_line(exc.__cause__ or exc),
                        self.retry_seconds,
                    )
                time.sleep(min(delay, max(0.0, self.retry_seconds - waited)))
                delay = min(delay * 2, 2.0)
                continue
            except Exception:
                # The database answered (with an error of another kind, such as a trial
                # that another process has finished meanwhile): the connection is back.
                if tries > 1:
                    self._log_restored(what, tries, start)
                raise
            if tries > 1:
                self._log_restored(what, tries, start)
            return result

    @staticmethod
    def _log_restored(what: str, tries: int, start: float) -> None:
        logger.warning(
            "database connection restored: %s answered after %d attempt(s) in %.1fs",
            what,
            tries,
            time.monotonic() - start,
        )

    def _write(self, durable: bool = True) -> Any:
        return self._txn(True, durable)

    def _read(self) -> Any:
        return self._txn(False)

    def _describe(self, exc: Exception) -> str:
        safe = self._engine.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
        if self.dialect == "sqlite":
            return (
                f"cannot use the SQLite database {safe}: {reason}. Check that the file's "
                "directory exists and is writable (and not on a network file system)"
            )
        return (
            f"cannot use the database {safe}: {reason}. Check that the server is running, "
            "the host/port/database/user in the URL are right, and it accepts connections"
        )

    def _check_schema(self, create: bool) -> None:
        sa, t = self._sa, self._t
        with self._write() as conn:
            insp = sa.inspect(conn)
            if not insp.has_table("tunesmith_meta"):
                tables = insp.get_table_names()
                if tables and "studies" in tables:
                    raise SchemaVersionError(
                        f"{self.safe_url} has a 'studies' table but no tunesmith_meta table: it was "
                        "not created by tunesmith. Use another database or file"
                    )
                if not create:
                    raise StorageError(f"{self.safe_url} holds no tunesmith storage")
                t.metadata.create_all(conn)
                conn.execute(
                    t.meta.insert().values(key="schema_version", value=str(t.SCHEMA_VERSION))
                )
                return
            row = conn.execute(
                sa.select(t.meta.c.value).where(t.meta.c.key == "schema_version")
            ).first()
        version = int(row[0]) if row else 0
        if version < t.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the storage {self.safe_url} uses schema version {version}, older than this "
                f"tunesmith's {t.SCHEMA_VERSION}. Stop all workers, back the database up, then "
                f"run: tunesmith storage upgrade '{self.safe_url}'"
            )
        if version > t.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the storage {self.safe_url} uses schema version {version}, newer than this "
                f"tunesmith's {t.SCHEMA_VERSION}; upgrade tunesmith (pip install -U tunesmith)"
            )

    @classmethod
    def upgrade(cls, url: str) -> tuple[int, int]:
        """Migrate a database to the current schema version in place.

        Returns:
            (version before, version after).
        """
        import sqlalchemy as sa

        from tunesmith.storage import _schema as t

        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction by default: take over BEGIN so a
            # migration that fails halfway leaves the database as it was.
            @sa.event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None

            @sa.event.listens_for(engine, "begin")
            def _on_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        try:
            with engine.begin() as conn:
                if not sa.inspect(conn).has_table(t.meta.name):
                    raise SchemaVersionError(f"{url} holds no tunesmith storage to upgrade")
                row = conn.execute(
                    sa.select(t.meta.c.value).where(t.meta.c.key == "schema_version")
                ).first()
                if row is None:
                    raise SchemaVersionError(f"{url} holds no tunesmith storage to upgrade")
                before = version = int(row[0])
                if version > t.SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"{url} is at schema version {version}, newer than this tunesmith "
                        f"({t.SCHEMA_VERSION}); upgrade tunesmith instead"
                    )
                while version < t.SCHEMA_VERSION:
                    if version not in t.MIGRATIONS:
                        raise SchemaVersionError(f"no migration from schema version {version}")
                    t.MIGRATIONS[version](conn)
                    version += 1
                conn.execute(
                    t.meta.update()
                    .where(t.meta.c.key == "schema_version")
                    .values(value=str(version))
                )
        finally:
            engine.dispose()
        return before, version

    def close(self) -> None:
        self._drop_connection()
        self._engine.dispose()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    # -- studies ---------------------------------------------------------------------
    @_retrying(idempotent=False)
    def create_study(
        self, name: str, directions: Sequence[str], attrs: Mapping[str, Any] | None = None
    ) -> StudyRecord:
        sa, t = self._sa, self._t
        encoded = {k: check_json(f"study attribute {k!r}", v) for k, v in (attrs or {}).items()}
        created = time.time()
        try:
            with self._write() as conn:
                sid = conn.execute(
                    t.studies.insert()
                    .values(
                        name=name,
                        directions=_dumps(list(directions)),
                        created=created,
                        next_number=0,
                        seq=0,
                    )
                    .returning(t.studies.c.study_id)
                ).scalar_one()
                if encoded:
                    conn.execute(
                        t.study_attrs.insert(),
                        [{"study_id": sid, "key": k, "value": v} for k, v in encoded.items()],
                    )
        except sa.exc.IntegrityError:
            raise DuplicatedStudyError(
                f"a study named {name!r} already exists in {self.safe_url}; pass "
                "load_if_exists=True to continue it, or choose another name"
            ) from None
        return StudyRecord(sid, name, tuple(directions), created)

    @_retrying(idempotent=True)
    def get_study(self, name: str) -> StudyRecord:
        sa, t = self._sa, self._t
        with self._read() as conn:
            row = conn.execute(
                sa.select(t.studies.c.study_id, t.studies.c.directions, t.studies.c.created).where(
                    t.studies.c.name == name
                )
            ).first()
            if row is None:
                names = list(conn.execute(sa.select(t.studies.c.name)).scalars())
                raise StudyNotFoundError(not_found_message(name, names))
        return StudyRecord(row[0], name, tuple(json.loads(row[1])), row[2])

    @_retrying(idempotent=True)
    def list_studies(self) -> list[StudySummary]:
        sa, t = self._sa, self._t
        out = []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(
                    t.studies.c.study_id,
                    t.studies.c.name,
                    t.studies.c.directions,
                    t.studies.c.created,
                ).order_by(t.studies.c.study_id)
            ).all()
            for sid, name, dirs, created in rows:
                directions = tuple(json.loads(dirs))
                n_all = conn.execute(
                    sa.select(sa.func.count()).where(t.trials.c.study_id == sid)
                ).scalar_one()
                vals = [
                    tuple(json.loads(v))
                    for v in conn.execute(
                        sa.select(t.trials.c.values_json).where(
                            t.trials.c.study_id == sid,
                            t.trials.c.state == int(TrialState.COMPLETE),
                        )
                    ).scalars()
                ]
                out.append(
                    StudySummary(
                        sid,
                        name,
                        directions,
                        created,
                        n_all,
                        len(vals),
                        best_of(vals, directions[0]),
                    )
                )
        return out

    @_retrying(idempotent=False)
    def delete_study(self, name: str) -> None:
        sa, t = self._sa, self._t
        sid = self.get_study(name).study_id
        with self._write() as conn:
            tids = sa.select(t.trials.c.trial_id).where(t.trials.c.study_id == sid)
            conn.execute(t.reports.delete().where(t.reports.c.trial_id.in_(tids)))
            conn.execute(t.trials.delete().where(t.trials.c.study_id == sid))
            conn.execute(t.study_attrs.delete().where(t.study_attrs.c.study_id == sid))
            conn.execute(t.studies.delete().where(t.studies.c.study_id == sid))

    @_retrying(idempotent=True)
    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        sa, t = self._sa, self._t
        text = check_json(f"study attribute {key!r}", value)
        for attempt in range(2):
            try:
                with self._write() as conn:
                    updated = conn.execute(
                        t.study_attrs.update()
                        .where(t.study_attrs.c.study_id == study_id, t.study_attrs.c.key == key)
                        .values(value=text)
                    ).rowcount
                    if not updated:
                        exists = conn.execute(
                            sa.select(t.studies.c.study_id).where(t.studies.c.study_id == study_id)
                        ).first()
                        if exists is None:
                            raise StudyNotFoundError(
                                f"no study with id {study_id} (was it deleted?)"
                            )
                        conn.execute(
                            t.study_attrs.insert().values(study_id=study_id, key=key, value=text)
                        )
                return
            except sa.exc.IntegrityError:
                # PostgreSQL: another process inserted the same new key first (READ
                # COMMITTED lets both see it missing); the retry updates its row.
                if attempt:
                    raise

    @_retrying(idempotent=True)
    def get_study_attrs(self, study_id: int) -> dict[str, Any]:
        sa, t = self._sa, self._t
        with self._read() as conn:
            rows = conn.execute(
                sa.select(t.study_attrs.c.key, t.study_attrs.c.value).where(
                    t.study_attrs.c.study_id == study_id
                )
            ).all()
        return {k: json.loads(v) for k, v in rows}

    # -- trials ---------------------------------------------------------------------
    # Hot paths use prebuilt textual statements: SQLAlchemy compiles each once per
    # dialect, and building Core expressions per call would cost more than SQLite itself.
    _COLS = (
        "trial_id, number, state, values_json, params_json, dists_json, user_attrs_json, "
        "system_attrs_json, t_start, t_complete, cpu_time, worker, heartbeat, retries, error, seq"
    )

    def _sql(self, key: str) -> str:
        stmts = self.__dict__.setdefault("_stmts", {})
        found = stmts.get(key)
        if found is None:
            text = _SQL[key].format(cols=self._COLS)
            if self.dialect != "sqlite":  # psycopg/psycopg2 use the pyformat style
                text = re.sub(r":(\w+)", r"%(\1)s", text)
            found = stmts[key] = text
        return found

    def _exec(self, conn: Any, key: str, params: Any = None, many: bool = False) -> Any:
        """Run a prebuilt statement on the DBAPI connection under SQLAlchemy's transaction."""
        cur = conn.connection.dbapi_connection.cursor()
        if many:
            cur.executemany(self._sql(key), params)
        else:
            cur.execute(self._sql(key), params or {})
        return cur

    def _bump(self, conn: Any, study_id: int, new_number: bool = False) -> tuple[int, int]:
        """Advance the study's change sequence (and trial counter); returns (number, seq)."""
        row = self._exec(
            conn, "bump_number" if new_number else "bump", {"sid": study_id}
        ).fetchone()
        if row is None:
            raise StudyNotFoundError(f"no study with id {study_id} (was it deleted?)")
        return row[0] - 1, row[1]

    @_retrying(idempotent=False)
    def create_trial(
        self,
        study_id: int,
        state: TrialState = TrialState.RUNNING,
        *,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        values: Sequence[float] | None = None,
        intermediate: Mapping[int, Sequence[float]] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        worker: str | None = None,
        retries: int = 0,
        error: str | None = None,
        datetime_start: float | None = None,
        datetime_complete: float | None = None,
    ) -> FrozenTrial:
        params = dict(params or {})
        dists = dict(distributions or {})
        check_params(params, dists)
        check_finished_values(values, TrialState(state))
        ua_text = "{}"
        if user_attrs:
            ua_text = check_json("user attributes", dict(user_attrs))
        now = time.time()
        state = TrialState(state)
        t_start = None if state == TrialState.WAITING else (datetime_start or now)
        t_complete = (datetime_complete or now) if state.is_finished() else None
        hb = now if state == TrialState.RUNNING else None
        vals = None if values is None else [float(v) for v in values]
        with self._write(durable=state != TrialState.RUNNING) as conn:
            number, trial_id = self._insert_trial(
                conn,
                study_id,
                {
                    "state": int(state),
                    "values": None if vals is None else _dumps(vals),
                    "params": _dumps(params),
                    "dists": _dists_json(dists),
                    "ua": ua_text,
                    "sa": _dumps(dict(system_attrs or {})),
                    "t_start": t_start,
                    "t_complete": t_complete,
                    "hb": hb,
                    "worker": worker,
                    "retries": retries,
                    "error": error,
                },
            )
            if intermediate:
                self._exec(
                    conn,
                    "insert_report",
                    [
                        {"tid": trial_id, "step": int(k), "values": _dumps(list(map(float, v)))}
                        for k, v in intermediate.items()
                    ],
                    many=True,
                )
        return build_frozen(
            number=number,
            trial_id=trial_id,
            state=state,
            values=vals,
            params=params,
            dists=dists,
            intermediate=intermediate,
            user_attrs=json.loads(ua_text),
            system_attrs=system_attrs,
            datetime_start=t_start,
            datetime_complete=t_complete,
            cpu_time=None,
            worker=worker,
            heartbeat=hb,
            retries=retries,
            error=error,
        )

    def _insert_trial(self, conn: Any, study_id: int, row: dict[str, Any]) -> tuple[int, int]:
        """Insert a trial with the next number; ``row`` holds the insert's columns
        except the study, number and sequence. Returns (number, trial_id)."""
        number, seq = self._bump(conn, study_id, new_number=True)
        args = {**row, "sid": study_id, "number": number, "seq": seq}
        return number, int(self._exec(conn, "insert_trial", args).fetchone()[0])

    @_retrying(idempotent=False)
    def claim_waiting_trial(self, study_id: int, worker: str | None = None) -> FrozenTrial | None:
        key = "pick_waiting_pg" if self.dialect == "postgresql" else "pick_waiting"
        now = time.time()
        with self._write() as conn:
            found = self._exec(conn, key, {"sid": study_id}).fetchone()
            if found is None:
                return None
            trial_id = found[0]
            _, seq = self._bump(conn, study_id)
            row = self._exec(
                conn, "claim", {"tid": trial_id, "now": now, "worker": worker, "seq": seq}
            ).fetchone()
            return self._frozen_from_row(row, self._reports_of(conn, [trial_id]).get(trial_id))

    def _lock_running(self, conn: Any, trial_id: int) -> Any:
        key = "lock_trial_pg" if self.dialect == "postgresql" else "lock_trial"
        row = self._exec(conn, key, {"tid": trial_id}).fetchone()
        if row is None:
            raise TrialNotFoundError(f"no trial with id {trial_id}")
        if row[1] in _FINISHED:
            raise TrialFinishedError(
                f"trial {row[2]} is already {TrialState(row[1]).name}; finished trials "
                "cannot change"
            )
        return row

    @staticmethod
    def _merge(
        row: Any,
        params: Mapping[str, float] | None,
        dists: Mapping[str, Distribution] | None,
        user_attrs: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        # row: (study_id, state, number, params_json, dists_json, user_attrs_json)
        out: dict[str, Any] = {"params": row[3], "dists": row[4], "ua": row[5]}
        if params:
            merged_d = {**_parse_dists(row[4]), **(dists or {})}
            merged_p = {**json.loads(row[3]), **params}
            check_params(merged_p, merged_d)
            out["params"] = _dumps(merged_p)
            out["dists"] = _dists_json(merged_d)
        if user_attrs:
            merged = {**json.loads(row[5]), **user_attrs}
            out["ua"] = check_json("user attributes", merged)
        return out

    @_retrying(idempotent=True)
    def update_running_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        heartbeat: float | None = None,
    ) -> None:
        with self._write(durable=False) as conn:
            row = self._lock_running(conn, trial_id)
            values = self._merge(row, params, distributions, user_attrs)
            values["tid"] = trial_id
            values["hb"] = heartbeat
            if values["params"] != row[3]:
                # New parameters of a running trial are news to other processes' samplers
                # (constant liar, grid bookkeeping): advance the change sequence.
                _, values["seq"] = self._bump(conn, row[0])
                self._exec(conn, "update_running_seq", values)
            else:
                self._exec(conn, "update_running", values)

    @_retrying(idempotent=True)
    def report(self, trial_id: int, step: int, values: Sequence[float]) -> None:
        text = _dumps([float(v) for v in values])
        with self._write(durable=False) as conn:
            self._lock_running(conn, trial_id)
            args = {"tid": trial_id, "step": int(step), "values": text}
            if not self._exec(conn, "update_report", args).rowcount:
                self._exec(conn, "insert_report", args)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        *,
        values: Sequence[float] | None = None,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        cpu_time: float | None = None,
        error: str | None = None,
    ) -> FrozenTrial:
        state = TrialState(state)
        if not state.is_finished():
            raise ValueError(f"finish_trial needs a finished state, got {state.name}")
        check_finished_values(values, state)
        vals = None if values is None else [float(v) for v in values]
        tries = 0

        def attempt() -> FrozenTrial:
            nonlocal tries
            tries += 1
            try:
                return self._finish_once(
                    trial_id, state, vals, params, distributions, user_attrs, cpu_time, error
                )
            except TrialFinishedError:
                if tries > 1:
                    # An earlier attempt may have committed just before its connection
                    # broke: if the stored result is ours, that attempt succeeded.
                    stored = self._load_one(trial_id)
                    if (
                        stored is not None
                        and stored.state == state
                        and (None if stored.values is None else list(stored.values)) == vals
                        and stored.error == error
                    ):
                        return stored
                raise

        return self._retry("finish_trial", attempt, idempotent=True)

    def _load_one(self, trial_id: int) -> FrozenTrial | None:
        with self._read() as conn:
            found = self._load_trials(conn, self._t.trials.c.trial_id == trial_id)
        return found[0] if found else None

    def _finish_once(
        self,
        trial_id: int,
        state: TrialState,
        vals: list[float] | None,
        params: Mapping[str, float] | None,
        distributions: Mapping[str, Distribution] | None,
        user_attrs: Mapping[str, Any] | None,
        cpu_time: float | None,
        error: str | None,
    ) -> FrozenTrial:
        now = time.time()
        with self._write() as conn:
            row = self._lock_running(conn, trial_id)
            upd = self._merge(row, params, distributions, user_attrs)
            _, seq = self._bump(conn, row[0])
            upd.update(
                tid=trial_id,
                state=int(state),
                values=None if vals is None else _dumps(vals),
                cpu=cpu_time,
                error=error,
                now=now,
                seq=seq,
            )
            out = self._exec(conn, "finish", upd).fetchone()
            if out is None:  # not reachable while the row lock holds; never overwrite
                raise TrialFinishedError(f"trial {row[2]} finished while being told")
            return self._frozen_from_row(out, self._reports_of(conn, [trial_id]).get(trial_id))

    @_retrying(idempotent=True)
    def heartbeat(self, trial_ids: Sequence[int], now: float) -> None:
        if not trial_ids:
            return
        with self._write(durable=False) as conn:
            self._exec(
                conn, "heartbeat", [{"tid": int(t), "now": now} for t in trial_ids], many=True
            )

    @_retrying(idempotent=True)
    def fail_stale_trials(
        self, study_id: int, stale_before: float, max_retries: int = 0
    ) -> list[FrozenTrial]:
        sa, t = self._sa, self._t
        tr = t.trials
        q = sa.select(tr.c.trial_id).where(
            tr.c.study_id == study_id,
            tr.c.state == int(TrialState.RUNNING),
            sa.or_(tr.c.heartbeat < stale_before, tr.c.heartbeat.is_(None)),
        )
        # Cheap check first: most calls find nothing and must not take the write lock.
        with self._read() as conn:
            if conn.execute(q.limit(1)).first() is None:
                return []
        if self.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        failed: list[FrozenTrial] = []
        now = time.time()
        # Failing a trial and queueing its retry commit together: a process that dies
        # in between (or a connection that breaks) cannot lose the retry, and running
        # this again after a broken connection cannot queue it twice.
        with self._write() as conn:
            ids = list(conn.execute(q).scalars())
            for trial_id in ids:
                _, seq = self._bump(conn, study_id)
                conn.execute(
                    tr.update()
                    .where(tr.c.trial_id == trial_id, tr.c.state == int(TrialState.RUNNING))
                    .values(
                        state=int(TrialState.FAILED),
                        t_complete=now,
                        seq=seq,
                        error="heartbeat lost: the process running this trial stopped responding",
                    )
                )
            if ids:
                failed = self._load_trials(conn, tr.c.trial_id.in_(ids))
            for ft in failed:
                if ft.retries >= max_retries:
                    continue
                params = {n: ft.distributions[n].to_internal(v) for n, v in ft.params.items()}
                self._insert_trial(
                    conn,
                    study_id,
                    {
                        "state": int(TrialState.WAITING),
                        "values": None,
                        "params": _dumps(params),
                        "dists": _dists_json(ft.distributions),
                        "ua": check_json("user attributes", dict(ft.user_attrs)),
                        "sa": _dumps({**ft.system_attrs, "retry_of": ft.number}),
                        "t_start": None,
                        "t_complete": None,
                        "hb": None,
                        "worker": None,
                        "retries": ft.retries + 1,
                        "error": None,
                    },
                )
        return failed

    # -- reads --------------------------------------------------------------------
    def _columns(self) -> list[Any]:
        c = self._t.trials.c
        return [
            c.trial_id,
            c.number,
            c.state,
            c.values_json,
            c.params_json,
            c.dists_json,
            c.user_attrs_json,
            c.system_attrs_json,
            c.t_start,
            c.t_complete,
            c.cpu_time,
            c.worker,
            c.heartbeat,
            c.retries,
            c.error,
            c.seq,
        ]

    @staticmethod
    def _frozen_from_row(r: Any, intermediate: Mapping[int, Sequence[float]] | None) -> FrozenTrial:
        return build_frozen(
            number=r[1],
            trial_id=r[0],
            state=r[2],
            values=None if r[3] is None else json.loads(r[3]),
            params=json.loads(r[4]),
            dists=_parse_dists(r[5]),
            intermediate=intermediate,
            user_attrs=json.loads(r[6]),
            system_attrs=json.loads(r[7]),
            datetime_start=r[8],
            datetime_complete=r[9],
            cpu_time=r[10],
            worker=r[11],
            heartbeat=r[12],
            retries=r[13],
            error=r[14],
        )

    def _reports_of(self, conn: Any, trial_ids: Sequence[int]) -> dict[int, dict[int, list[float]]]:
        out: dict[int, dict[int, list[float]]] = {}
        if len(trial_ids) == 1:
            rows = self._exec(conn, "reports_of_one", {"tid": trial_ids[0]}).fetchall()
        else:
            rp = self._t.reports
            rows = conn.execute(
                self._sa.select(rp.c.trial_id, rp.c.step, rp.c.values_json).where(
                    rp.c.trial_id.in_(list(trial_ids))
                )
            )
        for tid, step, v in rows:
            out.setdefault(tid, {})[step] = json.loads(v)
        return out

    def _load_trials(
        self, conn: Any, where: Any, with_intermediate: bool = True, order_by_seq: bool = False
    ) -> list[FrozenTrial]:
        sa, t = self._sa, self._t
        tr = t.trials
        order = tr.c.seq if order_by_seq else tr.c.number
        rows = conn.execute(sa.select(*self._columns()).where(where).order_by(order)).all()
        inter: dict[int, dict[int, list[float]]] = {}
        if with_intermediate and rows:
            rq = (
                sa.select(t.reports.c.trial_id, t.reports.c.step, t.reports.c.values_json)
                .join(tr, tr.c.trial_id == t.reports.c.trial_id)
                .where(where)
            )
            for tid, step, v in conn.execute(rq):
                inter.setdefault(tid, {})[step] = json.loads(v)
        return [self._frozen_from_row(r, inter.get(r[0])) for r in rows]

    @_retrying(idempotent=True)
    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._read() as conn:
            found = self._load_trials(conn, self._t.trials.c.trial_id == trial_id)
        if not found:
            raise TrialNotFoundError(f"no trial with id {trial_id}")
        return found[0]

    @_retrying(idempotent=True)
    def get_trials(
        self, study_id: int, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        tr = self._t.trials
        where = tr.c.study_id == study_id
        if states is not None:
            where = where & tr.c.state.in_([int(s) for s in states])
        with self._read() as conn:
            return self._load_trials(conn, where)

    @_retrying(idempotent=True)
    def get_changes(
        self, study_id: int, since: int, *, with_intermediate: bool = False
    ) -> tuple[list[FrozenTrial], int]:
        args = {"sid": study_id, "since": since}
        inter: dict[int, dict[int, list[float]]] = {}
        with self._read() as conn:
            rows = self._exec(conn, "changes", args).fetchall()
            if rows and with_intermediate:
                # One join on the same condition instead of an IN list of trial ids (which
                # can exceed SQLite's bound-parameter limit on a first sync). On PostgreSQL
                # a trial changed after the first query may add rows: they are ignored below.
                for tid, step, v in self._exec(conn, "changes_reports", args):
                    inter.setdefault(tid, {})[step] = json.loads(v)
        if not rows:
            return [], since
        return [self._frozen_from_row(r, inter.get(r[0])) for r in rows], int(rows[-1][15])

    @_retrying(idempotent=True)
    def count_trials(self, study_id: int, states: Sequence[TrialState] | None = None) -> int:
        sa = self._sa
        tr = self._t.trials
        where = tr.c.study_id == study_id
        if states is not None:
            where = where & tr.c.state.in_([int(s) for s in states])
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(where)).scalar_one())

    @_retrying(idempotent=True)
    def get_intermediate_at(self, study_id: int, step: int) -> dict[int, tuple[float, ...]]:
        sa, t = self._sa, self._t
        tr, rp = t.trials, t.reports
        with self._read() as conn:
            rows = conn.execute(
                sa.select(tr.c.number, rp.c.values_json)
                .join(tr, tr.c.trial_id == rp.c.trial_id)
                .where(tr.c.study_id == study_id, rp.c.step == int(step))
            ).all()
        return {n: tuple(json.loads(v)) for n, v in rows}


_SQL = {
    "bump": "UPDATE studies SET seq = seq + 1 WHERE study_id = :sid RETURNING next_number, seq",
    "bump_number": (
        "UPDATE studies SET seq = seq + 1, next_number = next_number + 1 "
        "WHERE study_id = :sid RETURNING next_number, seq"
    ),
    "insert_trial": (
        "INSERT INTO trials (study_id, number, state, values_json, params_json, dists_json, "
        "user_attrs_json, system_attrs_json, t_start, t_complete, heartbeat, worker, retries, "
        "error, seq) VALUES (:sid, :number, :state, :values, :params, :dists, :ua, :sa, "
        ":t_start, :t_complete, :hb, :worker, :retries, :error, :seq) RETURNING trial_id"
    ),
    "insert_report": (
        "INSERT INTO trial_reports (trial_id, step, values_json) VALUES (:tid, :step, :values)"
    ),
    "update_report": (
        "UPDATE trial_reports SET values_json = :values WHERE trial_id = :tid AND step = :step"
    ),
    "pick_waiting": (
        "SELECT trial_id FROM trials WHERE study_id = :sid AND state = 0 ORDER BY number LIMIT 1"
    ),
    "pick_waiting_pg": (
        "SELECT trial_id FROM trials WHERE study_id = :sid AND state = 0 ORDER BY number "
        "LIMIT 1 FOR UPDATE SKIP LOCKED"
    ),
    "claim": (
        "UPDATE trials SET state = 1, t_start = :now, heartbeat = :now, worker = :worker, "
        "seq = :seq WHERE trial_id = :tid RETURNING {cols}"
    ),
    "lock_trial": (
        "SELECT study_id, state, number, params_json, dists_json, user_attrs_json "
        "FROM trials WHERE trial_id = :tid"
    ),
    "lock_trial_pg": (
        "SELECT study_id, state, number, params_json, dists_json, user_attrs_json "
        "FROM trials WHERE trial_id = :tid FOR UPDATE"
    ),
    "update_running_seq": (
        "UPDATE trials SET params_json = :params, dists_json = :dists, user_attrs_json = :ua, "
        "heartbeat = COALESCE(:hb, heartbeat), seq = :seq WHERE trial_id = :tid"
    ),
    "update_running": (
        "UPDATE trials SET params_json = :params, dists_json = :dists, user_attrs_json = :ua, "
        "heartbeat = COALESCE(:hb, heartbeat) WHERE trial_id = :tid"
    ),
    "finish": (
        "UPDATE trials SET state = :state, values_json = :values, params_json = :params, "
        "dists_json = :dists, user_attrs_json = :ua, cpu_time = :cpu, error = :error, "
        "t_complete = :now, t_start = COALESCE(t_start, :now), seq = :seq "
        "WHERE trial_id = :tid AND state < 2 RETURNING {cols}"
    ),
    "heartbeat": "UPDATE trials SET heartbeat = :now WHERE trial_id = :tid AND state = 1",
    "reports_of_one": "SELECT trial_id, step, values_json FROM trial_reports WHERE trial_id = :tid",
    "changes": ("SELECT {cols} FROM trials WHERE study_id = :sid AND seq > :since ORDER BY seq"),
    "changes_reports": (
        "SELECT r.trial_id, r.step, r.values_json FROM trial_reports r JOIN trials t "
        "ON t.trial_id = r.trial_id WHERE t.study_id = :sid AND t.seq > :since"
    ),
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _invalidate(conn: Any) -> None:
    try:
        conn.invalidate()
    except Exception:
        pass


def _libpq_version(driver: str) -> int:
    """The libpq version the driver uses (e.g. 160002), 0 when unknown."""
    try:
        if driver == "psycopg":
            import psycopg

            return int(psycopg.pq.version())
        if driver == "psycopg2":
            import psycopg2.extensions

            return int(psycopg2.extensions.libpq_version())
    except Exception:
        pass
    return 0


def _pg_connect_defaults(driver: str) -> dict[str, int]:
    """:data:`PG_CONNECT_DEFAULTS` for libpq-based drivers (others get none)."""
    if driver not in ("psycopg", "psycopg2"):
        return {}
    out = dict(PG_CONNECT_DEFAULTS)
    if _libpq_version(driver) < 120000:  # tcp_user_timeout came with libpq 12
        out.pop("tcp_user_timeout")
    return out


def _mask(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _driver_hint(url: str, exc: Exception) -> str:
    text = str(exc)
    if "psycopg" in text or "No module named" in text:
        return (
            f"cannot open {url!r}: the PostgreSQL driver is missing ({text}). "
            'Install it with: pip install "tunesmith[postgresql]"'
        )
    return f"cannot open storage URL {url!r}: {text}"
