"""Shared fixtures: fresh storages on every backend, and database URLs.

* ``storage``: an empty storage, parametrized over the three backends
  (in memory, a SQLite file, PostgreSQL).
* ``storage_url``: an empty shareable database URL (SQLite file, PostgreSQL), for
  tests that open storages by URL or from other processes.
* ``sqlite_url`` / ``pg_url``: one backend only.

PostgreSQL runs against ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` (trust
auth; override with ``TUNESMITH_TEST_POSTGRES_URL``). Every test gets its own schema
(selected through the URL's ``search_path``), dropped afterwards, so tests never see
each other's tables, not even when several test runs share the server. When the
server is unreachable the PostgreSQL cases are skipped, unless
``TUNESMITH_REQUIRE_POSTGRES=1`` (set in CI) makes that an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

import tunesmith.storage as ts_storage
from tunesmith.storage import InMemoryStorage, Storage

PG_BASE_URL = os.environ.get(
    "TUNESMITH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("TUNESMITH_REQUIRE_POSTGRES") == "1"

_pg_problem: list[str | None] = []  # memo: [None] when reachable, [reason] when not


def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it can); checked once per session."""
    if not _pg_problem:
        try:
            import sqlalchemy as sa

            engine = sa.create_engine(PG_BASE_URL, connect_args={"connect_timeout": 3})
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            finally:
                engine.dispose()
        except Exception as exc:  # driver missing, server down, auth refused, ...
            first_line = (str(exc).strip().splitlines() or [repr(exc)])[0]
            _pg_problem.append(f"PostgreSQL at {PG_BASE_URL} is not usable: {first_line}")
        else:
            _pg_problem.append(None)
    return _pg_problem[0]


def require_postgres() -> None:
    """Skip the current test without PostgreSQL (fail under TUNESMITH_REQUIRE_POSTGRES=1)."""
    problem = _postgres_problem()
    if problem is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"{problem} (and TUNESMITH_REQUIRE_POSTGRES=1 requires it)", pytrace=False)
    pytest.skip(f"{problem}; set TUNESMITH_REQUIRE_POSTGRES=1 to make this an error")


def _forget_all_cached() -> None:
    urls = {url for _, url in list(ts_storage._cache)}
    for url in urls:
        ts_storage.forget_cached(url)


@pytest.fixture(autouse=True)
def _fresh_storage_cache() -> Iterator[None]:
    """``get_storage`` caches SQL storages per URL: start and end every test without any."""
    _forget_all_cached()
    yield
    _forget_all_cached()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'x.db'}"


@pytest.fixture
def pg_base_url() -> str:
    """The PostgreSQL server's URL (its public schema); skips without a server."""
    require_postgres()
    return PG_BASE_URL


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of an empty, private PostgreSQL schema (dropped after the test)."""
    require_postgres()
    import sqlalchemy as sa

    schema = f"ts_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_BASE_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_BASE_URL else "?"
    url = f"{PG_BASE_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        ts_storage.forget_cached(url)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            admin.dispose()


def _url_for(request: pytest.FixtureRequest, backend: str) -> str:
    if backend == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """A fresh, empty storage of each backend."""
    if request.param == "memory":
        yield InMemoryStorage()
        return
    from tunesmith.storage.sql import SQLStorage

    st = SQLStorage(_url_for(request, request.param))
    try:
        yield st
    finally:
        st.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL that several storages and processes can share."""
    return _url_for(request, request.param)
