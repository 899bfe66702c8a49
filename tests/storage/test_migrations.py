"""Schema versions: recorded, checked on open, and upgraded by registered migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunesmith.exceptions import SchemaVersionError, StorageError
from tunesmith.space import Float
from tunesmith.storage import _schema
from tunesmith.storage.sql import SQLStorage
from tunesmith.trial import TrialState


def _stored_version(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(_schema.meta.c.value).where(_schema.meta.c.key == "schema_version")
            ).scalar()
    finally:
        engine.dispose()


def _set_version(url: str, version: str | None) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(_schema.meta.delete())
            if version is not None:
                conn.execute(_schema.meta.insert().values(key="schema_version", value=version))
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [c["name"] for c in sa.inspect(conn).get_columns(table)]
    finally:
        engine.dispose()


def _make_v1_storage_with_data(url: str) -> None:
    with SQLStorage(url) as st:
        sid = st.create_study("kept", ["minimize"], {"note": "v1"}).study_id
        tid = st.create_trial(
            sid, TrialState.RUNNING, params={"x": 0.5}, distributions={"x": Float(0, 1)}
        ).trial_id
        st.report(tid, 1, [0.7])
        st.finish_trial(tid, TrialState.COMPLETE, values=[0.25])


def test_new_storage_records_the_schema_version(storage_url):
    SQLStorage(storage_url).close()
    assert _stored_version(storage_url) == str(_schema.SCHEMA_VERSION)


def test_older_schema_is_refused_with_upgrade_instructions(storage_url):
    SQLStorage(storage_url).close()
    _set_version(storage_url, str(_schema.SCHEMA_VERSION - 1))
    with pytest.raises(SchemaVersionError) as info:
        SQLStorage(storage_url)
    message = str(info.value)
    assert "tunesmith storage upgrade" in message
    assert f"older than this tunesmith's {_schema.SCHEMA_VERSION}" in message
    assert storage_url in message
    assert isinstance(info.value, StorageError)


def test_missing_version_row_counts_as_older(storage_url):
    SQLStorage(storage_url).close()
    _set_version(storage_url, None)
    with pytest.raises(SchemaVersionError, match="tunesmith storage upgrade"):
        SQLStorage(storage_url)


def test_newer_schema_asks_to_upgrade_tunesmith(storage_url):
    SQLStorage(storage_url).close()
    _set_version(storage_url, str(_schema.SCHEMA_VERSION + 1))
    with pytest.raises(SchemaVersionError) as info:
        SQLStorage(storage_url)
    assert "newer than this tunesmith" in str(info.value)
    assert "upgrade tunesmith" in str(info.value)
    with pytest.raises(SchemaVersionError, match="upgrade tunesmith instead"):
        SQLStorage.upgrade(storage_url)


def test_upgrade_at_the_current_version_does_nothing(storage_url):
    _make_v1_storage_with_data(storage_url)
    v = _schema.SCHEMA_VERSION
    assert SQLStorage.upgrade(storage_url) == (v, v)
    assert _stored_version(storage_url) == str(v)


def test_upgrade_of_a_database_without_tunesmith_is_refused(storage_url):
    engine = sa.create_engine(storage_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="holds no tunesmith storage"):
        SQLStorage.upgrade(storage_url)


def test_upgrade_runs_registered_migrations(storage_url, monkeypatch):
    assert _schema.SCHEMA_VERSION == 1, "update this test when the schema version changes"
    _make_v1_storage_with_data(storage_url)
    calls = []

    def add_priority(conn: sa.Connection) -> None:
        calls.append(1)
        conn.exec_driver_sql("ALTER TABLE trials ADD COLUMN priority INTEGER DEFAULT 0")

    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(_schema.MIGRATIONS, 1, add_priority)

    with pytest.raises(SchemaVersionError, match="tunesmith storage upgrade"):
        SQLStorage(storage_url)

    assert SQLStorage.upgrade(storage_url) == (1, 2)
    assert calls == [1]
    assert "priority" in _columns(storage_url, "trials")
    assert _stored_version(storage_url) == "2"

    with SQLStorage(storage_url, create=False) as st:
        rec = st.get_study("kept")
        assert st.get_study_attrs(rec.study_id) == {"note": "v1"}
        (trial,) = st.get_trials(rec.study_id)
        assert trial.state == TrialState.COMPLETE
        assert trial.values == (0.25,)
        assert dict(trial.params) == {"x": 0.5}
        assert dict(trial.intermediate) == {1: (0.7,)}
        assert st.create_trial(rec.study_id).number == 1

    # Upgrading again is a no-op.
    assert SQLStorage.upgrade(storage_url) == (2, 2)
    assert calls == [1]


def test_upgrade_without_a_migration_is_refused_and_changes_nothing(storage_url, monkeypatch):
    _make_v1_storage_with_data(storage_url)
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 2)
    monkeypatch.delitem(_schema.MIGRATIONS, 1, raising=False)
    with pytest.raises(SchemaVersionError, match="no migration from schema version 1"):
        SQLStorage.upgrade(storage_url)
    assert _stored_version(storage_url) == "1"


def test_failing_migration_leaves_the_database_unchanged(storage_url, monkeypatch):
    _make_v1_storage_with_data(storage_url)
    before = _columns(storage_url, "trials")

    def half_done(conn: sa.Connection) -> None:
        conn.exec_driver_sql("ALTER TABLE trials ADD COLUMN priority INTEGER DEFAULT 0")
        conn.exec_driver_sql("UPDATE trials SET state = 4")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(_schema.MIGRATIONS, 1, half_done)
    with pytest.raises(RuntimeError, match="migration bug"):
        SQLStorage.upgrade(storage_url)

    assert _columns(storage_url, "trials") == before
    assert _stored_version(storage_url) == "1"
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 1)
    with SQLStorage(storage_url) as st:
        (trial,) = st.get_trials(st.get_study("kept").study_id)
        assert trial.state == TrialState.COMPLETE
