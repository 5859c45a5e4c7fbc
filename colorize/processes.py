"""Processes: Ctrl-C as a flag, tasks in worker processes, one thread per process.

Training looks at a stop flag between steps, never in the middle of one, so
that Ctrl-C saves a checkpoint instead of tearing a file. `sigint_sets`
turns SIGINT into that flag (and forwards it to workers); `run_in_processes`
runs one task per worker (``colorize train --jobs 2``: U and V at once) and
brings back their return values; `single_threaded` gives each of them one
BLAS and one Numba thread, so that two workers share two cores.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
from contextlib import contextmanager

#: The environment variables that set the threads of BLAS (OpenMP, OpenBLAS, MKL) and Numba.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class Interrupted(RuntimeError):
    """Work stopped on SIGINT (Ctrl-C) after saving what lets it resume."""


class StopFlag:
    """Set by SIGINT; work looks at it between steps, never in the middle of one."""
    raised = False


class ChildStopFlag(StopFlag):
    """A worker's flag: also raised when its parent is gone, so no orphan works on."""

    def __init__(self):
        self.parent = os.getppid()
        self.signalled = False

    @property
    def raised(self):
        return self.signalled or os.getppid() != self.parent

    @raised.setter
    def raised(self, value):
        self.signalled = value


@contextmanager
def sigint_sets(flag, forward_to=()):
    """While inside, SIGINT sets ``flag.raised`` (and is passed on to the processes ``forward_to``)."""
    def handler(signum, frame):
        flag.raised = True
        for proc in forward_to:
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def single_threaded(threads: int = 1):
    """While inside, `THREAD_VARIABLES` are ``threads``: what processes started here inherit."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker(task, name, args, expected, messages):
    """Run ``task(*args, report, stop)`` in a child; everything it has to say goes through ``messages``."""
    flag = ChildStopFlag()
    with sigint_sets(flag):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})     # held since the start (see run_in_processes)
        try:
            result = task(*args, lambda *said: messages.put(("report", name, said)), flag)
            messages.put(("done", name, result))
        except expected as e:
            messages.put(("interrupted" if isinstance(e, Interrupted) else "error", name, str(e)))


def _interrupt(procs) -> None:
    """SIGINT to each of ``procs`` still running: it stops as on Ctrl-C."""
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGINT)


def run_in_processes(task, jobs: dict, report, expected=(Interrupted, ValueError, OSError)) -> dict:
    """Run ``task(*jobs[name], report, stop)`` for every name at once, each in a process of its own.

    Parameters
    ----------
    task : a picklable function (module level); ``report(*said)`` in a worker
        calls ``report(*said)`` here, and ``stop.raised`` tells it that Ctrl-C
        was pressed (SIGINT here is forwarded to every worker).
    jobs : name -> arguments (picklable)
    report : callable
    expected : exception types a worker reports as a line of text, not a traceback

    Returns
    -------
    dict
        name -> (outcome, value): ("done", the task's return value),
        ("interrupted", message) or ("error", message). Once one reports an
        error, the others are sent SIGINT (they stop as on Ctrl-C); when a
        worker dies, its error alone (the others are terminated).
    """
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    procs = {name: ctx.Process(target=_worker, args=(task, name, args, expected, messages), daemon=True)
             for name, args in jobs.items()}
    outcomes = {}
    with sigint_sets(StopFlag(), forward_to=list(procs.values())) as flag:
        # The workers start with SIGINT blocked (they inherit this thread's mask): a Ctrl-C while they
        # import is held, not a traceback of theirs, and reaches each once its handler is set (_worker).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with single_threaded():
                for proc in procs.values():
                    proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if flag.raised:                         # Ctrl-C while they started: every one hears it
            _interrupt(procs.values())
        while len(outcomes) < len(procs):
            try:
                kind, name, value = messages.get(timeout=0.5)
            except queue_module.Empty:
                dead = [n for n, p in procs.items() if not p.is_alive() and n not in outcomes]
                if dead and messages.empty():           # it can say nothing more: the others are stopped
                    for proc in procs.values():
                        proc.terminate()
                    return {dead[0]: ("error", f"a {dead[0]} process died (exit code {procs[dead[0]].exitcode})")}
                continue
            if kind == "report":
                report(*value)
                continue
            outcomes[name] = (kind, value)
            if kind == "error":                 # the others stop as on Ctrl-C (saving what lets them resume)
                _interrupt(proc for other, proc in procs.items() if other not in outcomes)
        for proc in procs.values():
            proc.join()
    return outcomes
