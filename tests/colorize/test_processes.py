"""colorize.processes: thread variables set and restored, tasks in worker processes and what they say."""
import os

from colorize.processes import THREAD_VARIABLES, Interrupted, run_in_processes, single_threaded


def _task(name, fail, report, stop):
    """Report once, then fail as asked or return what the worker saw: its threads and whether it was stopped."""
    report(name, 1)
    if fail == "value":
        raise ValueError(f"{name}: bad value")
    if fail == "interrupt":
        raise Interrupted(f"{name} stopped")
    return {v: os.environ.get(v) for v in THREAD_VARIABLES}, stop.raised


def test_single_threaded_sets_the_variables_and_restores_them(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    with single_threaded():
        assert {os.environ[v] for v in THREAD_VARIABLES} == {"1"}
    assert os.environ["OMP_NUM_THREADS"] == "7" and "NUMBA_NUM_THREADS" not in os.environ


def test_workers_return_their_results_and_say_their_errors_in_a_line():
    said = []
    outcomes = run_in_processes(_task, {"a": ("a", None), "b": ("b", "value"), "c": ("c", "interrupt")},
                                lambda *args: said.append(args))
    assert sorted(said) == [("a", 1), ("b", 1), ("c", 1)]
    assert outcomes["a"] == ("done", (dict.fromkeys(THREAD_VARIABLES, "1"), False))      # one thread each
    assert outcomes["b"] == ("error", "b: bad value") and outcomes["c"] == ("interrupted", "c stopped")
