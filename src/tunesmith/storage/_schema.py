"""SQL schema of tunesmith storages, its version, and the migrations between versions.

Schema changes follow one rule: bump :data:`SCHEMA_VERSION` and register a function in
:data:`MIGRATIONS` that upgrades a database from the previous version in place. A
database at an older version is never changed silently: opening it raises
:class:`~tunesmith.exceptions.SchemaVersionError` telling the user to run
``tunesmith storage upgrade URL`` (after stopping every worker).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

SCHEMA_VERSION = 1

metadata = sa.MetaData()

meta = sa.Table(
    "tunesmith_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(512), nullable=False, unique=True),
    sa.Column("directions", sa.Text, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("next_number", sa.Integer, nullable=False, default=0),
    # Change sequence: bumped (under the study row's lock) by every trial state change.
    sa.Column("seq", sa.BigInteger, nullable=False, default=0),
)

study_attrs = sa.Table(
    "study_attrs",
    metadata,
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.study_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.study_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("values_json", sa.Text),
    sa.Column("params_json", sa.Text, nullable=False, default="{}"),
    sa.Column("dists_json", sa.Text, nullable=False, default="{}"),
    sa.Column("user_attrs_json", sa.Text, nullable=False, default="{}"),
    sa.Column("system_attrs_json", sa.Text, nullable=False, default="{}"),
    sa.Column("t_start", sa.Double),
    sa.Column("t_complete", sa.Double),
    sa.Column("heartbeat", sa.Double),
    sa.Column("worker", sa.String(256)),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("cpu_time", sa.Double),
    sa.Column("error", sa.Text),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    sa.Index("ix_trials_study_seq", "study_id", "seq"),
    sa.Index("ix_trials_study_state", "study_id", "state"),
)

reports = sa.Table(
    "trial_reports",
    metadata,
    sa.Column(
        "trial_id",
        sa.Integer,
        sa.ForeignKey("trials.trial_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("values_json", sa.Text, nullable=False),
)

# version v -> function upgrading a connection (inside a transaction) from v to v + 1.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {}
