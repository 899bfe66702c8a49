"""SQL storage specifics: opening URLs, error messages, caching, SQLite settings."""

from __future__ import annotations

import importlib.util
import os
import pickle
import sqlite3
from pathlib import Path

import pytest

import tunesmith.storage as ts_storage
from tunesmith.exceptions import SchemaVersionError, StorageError
from tunesmith.storage import InMemoryStorage, get_storage, normalize_url
from tunesmith.storage.sql import SQLStorage

needs_psycopg = pytest.mark.skipif(
    importlib.util.find_spec("psycopg") is None, reason="the psycopg driver is not installed"
)


# -- bad URLs ----------------------------------------------------------------------------


def test_unsupported_scheme_names_it_and_the_supported_ones():
    with pytest.raises(StorageError) as info:
        get_storage("mysql://user@localhost/db")
    message = str(info.value)
    assert "unsupported storage URL scheme 'mysql'" in message
    assert "sqlite:///" in message and "postgresql://" in message


def test_empty_url_is_refused():
    with pytest.raises(StorageError, match="empty"):
        get_storage("   ")


def test_path_in_a_missing_directory_is_refused(tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(StorageError) as info:
        get_storage(str(missing / "studies.db"))
    assert "does not exist" in str(info.value)
    assert str(missing) in str(info.value)
    assert not missing.exists()


def test_path_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(StorageError, match="is a directory"):
        get_storage(str(tmp_path))


def test_sqlite_url_in_a_missing_directory_explains_the_problem(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'x.db'}"
    with pytest.raises(StorageError) as info:
        SQLStorage(url)
    message = str(info.value)
    assert "cannot use the SQLite database" in message
    assert "directory exists" in message


def test_storage_argument_of_a_wrong_type_is_refused():
    with pytest.raises(StorageError, match="path, a URL or a Storage"):
        get_storage(42)  # type: ignore[arg-type]


@needs_psycopg
def test_unreachable_postgresql_server_is_a_storage_error():
    with pytest.raises(StorageError) as info:
        get_storage("postgresql://postgres:hunter2@127.0.0.1:1/test")
    message = str(info.value)
    assert "Check that the server is running" in message
    assert "127.0.0.1:1" in message
    assert "hunter2" not in message  # the password is never shown


@pytest.mark.postgres
def test_missing_postgresql_database_is_a_storage_error(pg_base_url):
    base, _, _ = pg_base_url.rpartition("/")
    with pytest.raises(StorageError) as info:
        SQLStorage(f"{base}/tunesmith_no_such_database")
    message = str(info.value)
    assert "tunesmith_no_such_database" in message
    assert "does not exist" in message


# -- URL normalization and the cache ---------------------------------------------------------


def test_postgresql_urls_get_the_installed_driver():
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the psycopg driver is not installed")
    assert normalize_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"


def test_sqlite_urls_and_paths_become_absolute_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a relative sqlite URL is anchored, so one file has one URL (and one cached storage)
    assert normalize_url("sqlite:///rel.db") == f"sqlite:///{(tmp_path / 'rel.db').resolve()}"
    assert normalize_url(f"sqlite:///{tmp_path}/abs.db") == f"sqlite:///{tmp_path}/abs.db"
    assert normalize_url("sqlite:///:memory:") == "sqlite:///:memory:"
    expected = f"sqlite:///{(tmp_path / 'x.db').resolve()}"
    assert normalize_url("x.db") == expected
    assert normalize_url("./x.db") == expected
    assert normalize_url("  x.db  ") == expected
    (tmp_path / "sub").mkdir()
    assert normalize_url("sub/../x.db") == expected


def test_get_storage_shares_one_storage_per_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = get_storage("x.db")
    assert isinstance(first, SQLStorage)
    same = [
        get_storage("./x.db"),
        get_storage(Path("x.db")),
        get_storage(tmp_path / "x.db"),
        get_storage(f"sqlite:///{(tmp_path / 'x.db').resolve()}"),
    ]
    assert all(s is first for s in same)
    assert get_storage("y.db") is not first


def test_forget_cached_gives_a_new_storage_next_time(sqlite_url):
    first = get_storage(sqlite_url)
    first.create_study("kept", ["minimize"])
    ts_storage.forget_cached(sqlite_url)
    second = get_storage(sqlite_url)
    assert second is not first
    assert [s.name for s in second.list_studies()] == ["kept"]


def test_memory_storages_are_never_shared():
    a, b = get_storage(None), get_storage(":memory:")
    assert isinstance(a, InMemoryStorage) and isinstance(b, InMemoryStorage)
    assert a is not b
    assert get_storage(a) is a


def test_cached_storage_is_per_process(sqlite_url):
    get_storage(sqlite_url)
    assert (os.getpid(), sqlite_url) in ts_storage._cache


# -- opening existing files ----------------------------------------------------------------


def test_sqlite_file_of_another_application_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE studies (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("INSERT INTO studies (title) VALUES ('not ours')")
    with pytest.raises(SchemaVersionError, match="not created by tunesmith"):
        get_storage(str(path))
    with sqlite3.connect(path) as conn:  # left untouched
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert names == {"studies"}


def test_sqlite_file_with_unrelated_tables_gets_tunesmith_tables_too(tmp_path):
    path = tmp_path / "shared.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    st = get_storage(str(path))
    st.create_study("s", ["minimize"])
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"notes", "studies", "trials", "tunesmith_meta"} <= names


def test_create_false_refuses_an_empty_database(sqlite_url):
    with pytest.raises(StorageError, match="holds no tunesmith storage"):
        SQLStorage(sqlite_url, create=False)


def test_data_survives_reopening_the_file(sqlite_url):
    with SQLStorage(sqlite_url) as st:
        sid = st.create_study("s", ["maximize"], {"k": [1]}).study_id
        st.create_trial(sid, values=None)
    with SQLStorage(sqlite_url, create=False) as st:
        rec = st.get_study("s")
        assert rec.directions == ("maximize",)
        assert st.get_study_attrs(rec.study_id) == {"k": [1]}
        assert st.count_trials(rec.study_id) == 1


def test_sqlite_runs_in_wal_mode(sqlite_url):
    st = SQLStorage(sqlite_url)
    st.create_study("s", ["minimize"])
    path = sqlite_url[len("sqlite:///") :]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with st._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    st.close()


def test_in_memory_sqlite_url_works():
    with SQLStorage("sqlite:///:memory:") as st:
        sid = st.create_study("s", ["minimize"]).study_id
        st.create_trial(sid)
        assert st.count_trials(sid) == 1


def test_sql_storage_pickles_to_its_url(storage_url):
    st = SQLStorage(storage_url)
    st.create_study("s", ["minimize"])
    copy = pickle.loads(pickle.dumps(st))
    try:
        assert copy.url == storage_url
        assert [s.name for s in copy.list_studies()] == ["s"]
    finally:
        copy.close()
        st.close()


def test_storage_works_after_close(sqlite_url):
    st = SQLStorage(sqlite_url)
    sid = st.create_study("s", ["minimize"]).study_id
    st.close()
    assert st.count_trials(sid) == 0  # a closed storage reconnects on demand
    st.close()
