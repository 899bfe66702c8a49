"""Two "hosts" (network namespaces) run ``tunesmith worker`` on one PostgreSQL study;
one host is cut off mid-trial and comes back later.

What must hold: the other host recovers the lost trial after the heartbeat grace
(FAILED with "heartbeat lost", re-queued once and run to COMPLETE there), every
trial is accounted for, no trial runs twice to COMPLETE, and the cut-off worker's
late result is refused (a clear warning) without touching the recovered trial; the
worker then goes on and exits cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.storage import forget_cached
from tunesmith.trial import TrialState

from ._netns import Host, Hosts, TcpForwarder, netns_problem, remove_leftovers

pytestmark = pytest.mark.postgres

OBJECTIVE = '''
import os
import time


def objective(trial):
    """Sleep about a second and log which host and process ran which trial."""
    x = trial.params["x"]
    where = f"{os.environ['TS_HOST']} {os.getpid()}"
    with open(os.environ["TS_TRIAL_LOG"], "a") as log:
        log.write(f"start {trial.number} {where}\\n")
    time.sleep(float(os.environ.get("TS_SLEEP", "1.0")))
    with open(os.environ["TS_TRIAL_LOG"], "a") as log:
        log.write(f"end {trial.number} {where}\\n")
    return x
'''


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Two namespaces with veth links; removed afterwards, even when the test fails."""
    problem = netns_problem()
    if problem is not None:
        if os.environ.get("TUNESMITH_REQUIRE_NETNS") == "1":
            pytest.fail(f"{problem} (and TUNESMITH_REQUIRE_NETNS=1 requires namespaces)")
        pytest.skip(
            f"network namespaces are not available: {problem}; set "
            "TUNESMITH_REQUIRE_NETNS=1 to make this an error"
        )
    remove_leftovers()
    made = Hosts()
    try:
        made.add("a")
        made.add("b")
        yield made
    finally:
        made.teardown()


@pytest.fixture
def forwarder(hosts: Hosts) -> Iterator[TcpForwarder]:
    """Relays port 5432 on every host's gateway address to the local PostgreSQL."""
    fwd = TcpForwarder([(h.gateway, 5432) for h in hosts.hosts], ("127.0.0.1", 5432))
    fwd.start()
    try:
        yield fwd
    finally:
        fwd.stop()


def _url_via(pg_url: str, host: Host, extra: str = "") -> str:
    url = pg_url.replace("@127.0.0.1:5432/", f"@{host.gateway}:5432/", 1)
    if extra:
        url += ("&" if "?" in url else "?") + extra
    return url


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _log_lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("fault", ["blip", "reset"])
def test_partitioned_host_loses_its_trial_and_comes_back_cleanly(
    tmp_path: Path, pg_url: str, hosts: Hosts, forwarder: TcpForwarder, fault: str
) -> None:
    """``blip``: the link is down for a few seconds and TCP carries the open connections
    over the gap. ``reset``: while host A is cut off, its database sessions end (the
    forwarder aborts them, as a server restart or a NAT timeout would) and its sockets
    give up after 1.5 s without acknowledgements (``tcp_user_timeout``): every
    connection of the worker breaks, and it must reconnect and retry after the link
    returns instead of crashing."""
    host_a, host_b = hosts.hosts
    (tmp_path / "netns_objective.py").write_text(textwrap.dedent(OBJECTIVE))
    trial_log = tmp_path / "trials.log"
    name = "netns"
    # A declared space: parameters are stored when a trial starts, so a retry can
    # repeat them (define-by-run parameters reach the storage with the next heartbeat).
    study = ts.create_study(
        name,
        storage=pg_url,
        sampler="random",  # distinct parameters per trial: a repeat would show
        seed=0,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        heartbeat_interval=1.5,  # lost after 4.5 s without a heartbeat
        max_retries=1,
    )
    study.close()
    # Host B's budget outlasts the recovery (about 6 s after the cut) with room to spare
    # on a loaded machine.
    n_a, n_b = 3, 14
    extra = "tcp_user_timeout=1500&connect_timeout=2" if fault == "reset" else ""
    procs: dict[str, subprocess.Popen[str]] = {}
    outputs: dict[str, tuple[str, str]] = {}
    try:
        for host, n in ((host_a, n_a), (host_b, n_b)):
            env = {**os.environ, "TS_HOST": host.name, "TS_TRIAL_LOG": str(trial_log)}
            env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
            argv = [
                sys.executable,
                "-m",
                "tunesmith.cli",
                "worker",
                "--study",
                name,
                "--storage",
                _url_via(pg_url, host, extra if host is host_a else ""),
                "--objective",
                "netns_objective:objective",
                "--n-trials",
                str(n),
                "--no-progress",
            ]
            procs[host.name] = subprocess.Popen(
                host.exec_argv(argv),
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

        # Cut host A off while it is inside its second trial.
        def a_in_second_trial() -> bool:
            starts = [
                ln for ln in _log_lines(trial_log) if ln[0] == "start" and ln[2] == host_a.name
            ]
            return len(starts) >= 2

        _wait(a_in_second_trial, 30, "host A to start its second trial")
        lost = int([ln for ln in _log_lines(trial_log) if ln[2] == host_a.name][-1][1])
        host_a.cut()
        t_cut = time.monotonic()

        # Host B notices the missing heartbeats, fails the trial and runs its retry.
        def recovered() -> bool:
            by_number = {t.number: t for t in study.trials}
            retry = [t for t in by_number.values() if t.system_attrs.get("retry_of") == lost]
            return (
                by_number[lost].state == TrialState.FAILED
                and len(retry) == 1
                and retry[0].state == TrialState.COMPLETE
            )

        _wait(recovered, 30, f"host B to recover trial {lost}")
        t_recovered = time.monotonic() - t_cut
        if fault == "reset":
            assert forwarder.drop(host_a.address) >= 1
            time.sleep(2.0)  # past tcp_user_timeout: host A's sockets have given up
        host_a.restore()

        for host_name, proc in procs.items():
            try:
                outputs[host_name] = proc.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                outputs[host_name] = proc.communicate()
                raise AssertionError(
                    f"worker on {host_name} did not exit: {outputs[host_name]}"
                ) from None
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        host_a.restore()

    out_a, err_a = outputs[host_a.name]
    out_b, err_b = outputs[host_b.name]
    assert procs[host_a.name].returncode == 0, (out_a, err_a)
    assert procs[host_b.name].returncode == 0, (out_b, err_b)

    forget_cached(pg_url)
    trials = ts.load_study(name, pg_url).trials
    states = [t.state for t in trials]
    # Every trial accounted for: dense numbers, nothing left running or queued.
    assert [t.number for t in trials] == list(range(n_a + n_b))
    assert states.count(TrialState.FAILED) == 1
    assert states.count(TrialState.COMPLETE) == n_a + n_b - 1
    failed = trials[lost]
    assert failed.state == TrialState.FAILED
    assert "heartbeat lost" in (failed.error or "")
    assert failed.values is None  # the late result did not overwrite the record
    (retry,) = [t for t in trials if t.system_attrs.get("retry_of") == lost]
    assert retry.state == TrialState.COMPLETE
    assert retry.retries == 1
    assert retry.params == failed.params
    # No parameters ran twice to COMPLETE.
    done = [tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE]
    assert len(set(done)) == len(done)
    # Which host ran what: the retry ran on host B; A finished the lost trial's objective
    # only after its link came back, and its result was refused with a clear warning.
    ends = [ln for ln in _log_lines(trial_log) if ln[0] == "end"]
    assert [ln[2] for ln in ends if ln[1] == str(retry.number)] == [host_b.name]
    assert [ln[2] for ln in ends if ln[1] == str(lost)] == [host_a.name]
    assert f"trial {lost} was marked FAILED by another process" in err_a, err_a
    assert "heartbeat lost" in err_a
    assert f"Worker ran {n_a} trial(s)" in out_a
    if fault == "reset":
        # Host A's connections broke; it said so, reconnected and went on.
        assert "lost the database connection" in err_a, err_a
        assert "database connection restored" in err_a, err_a
    assert t_recovered < 25
    print(f"recovered {t_recovered:.1f}s after the cut; host A stderr:\n{err_a}")
