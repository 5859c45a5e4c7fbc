"""colorize.processes: thread variables set and restored, tasks in worker processes and what they say."""
import os
import time

from colorize.processes import THREAD_VARIABLES, Interrupted, run_in_processes, single_threaded


def _task(name, fail, report, stop):
    """Report once, then fail as asked or return what the worker saw: its threads and whether it was stopped."""
    report(name, 1)
    if fail == "value":
        raise ValueError(f"{name}: bad value")
    if fail == "interrupt":
        raise Interrupted(f"{name} stopped")
    if fail == "wait":                          # as training does: look at the flag between steps
        deadline = time.monotonic() + 30
        while not stop.raised and time.monotonic() < deadline:
            time.sleep(0.05)
        if stop.raised:
            raise Interrupted(f"{name} stopped")
    return {v: os.environ.get(v) for v in THREAD_VARIABLES}, stop.raised


def test_single_threaded_sets_the_variables_and_restores_them(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    with single_threaded():
        assert {os.environ[v] for v in THREAD_VARIABLES} == {"1"}
    assert os.environ["OMP_NUM_THREADS"] == "7" and "NUMBA_NUM_THREADS" not in os.environ


def test_workers_return_their_results_and_say_their_interruptions_in_a_line():
    said = []
    outcomes = run_in_processes(_task, {"a": ("a", None), "c": ("c", "interrupt")}, lambda *args: said.append(args))
    assert sorted(said) == [("a", 1), ("c", 1)]
    assert outcomes["a"] == ("done", (dict.fromkeys(THREAD_VARIABLES, "1"), False))      # one thread each
    assert outcomes["c"] == ("interrupted", "c stopped")


def test_an_error_in_one_worker_stops_the_others_as_ctrl_c_does():
    """A worker that fails says it in a line and makes the others stop (SIGINT: they save and say so), rather
    than work to the end."""
    started = time.monotonic()
    outcomes = run_in_processes(_task, {"a": ("a", "wait"), "b": ("b", "value")}, lambda *args: None)
    assert outcomes == {"a": ("interrupted", "a stopped"), "b": ("error", "b: bad value")}
    assert time.monotonic() - started < 25
