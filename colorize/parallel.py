"""Running on K processes under ``mpiexec``: one communicator, with MPI or without.

``world()`` is what training and ``apply`` ask for. Started by ``mpiexec -n K``
(K > 1) it is backed by ``mpi4py``'s ``COMM_WORLD``; otherwise it is the
trivial communicator of one process: rank 0 of 1, whose collectives change
nothing. The code that uses it is the same in both cases, so a run without
MPI does exactly what it did before MPI existed here.

mpi4py is imported only when an MPI launcher's variable is in the
environment: importing it starts MPI, which a plain run must not pay for
(nor need the package installed).

This module lives in ``colorize``, not in the engine: ``vcnn`` imports only
numpy and scipy, and the two things parallel here are the application's
(spreading one SGD step over ranks, sharing files out). The engine's part is
unchanged: a network's gradients are plain arrays, summed by
:func:`sum_gradients`.
"""
from __future__ import annotations

import functools
import os
import sys
import time

import numpy as np

#: Set by MPI launchers in every process they start: MPICH's and Intel's
#: Hydra and Slurm's PMI (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE), PMIx.
LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
ABORT_GRACE = 0.5       # seconds a rank waits, output flushed, before MPI_Abort


class ParallelError(RuntimeError):
    """Started by an MPI launcher, but MPI cannot be used."""


class Communicator:
    """One process: rank 0 of 1. Every collective is the identity.

    The MPI-backed subclass has the same methods; every rank must call a
    collective at the same point, with arrays of the same shape and dtype.
    """

    rank, size = 0, 1

    def sum(self, array: np.ndarray) -> np.ndarray:
        """Replace ``array`` in place by its sum over the ranks (``Allreduce``), and return it."""
        return array

    def broadcast(self, array: np.ndarray) -> np.ndarray:
        """Overwrite ``array`` in place with rank 0's values (``Bcast``), and return it."""
        return array

    def share(self, obj):
        """Rank 0's ``obj`` (small, picklable) on every rank."""
        return obj

    def gather(self, obj) -> list:
        """Every rank's ``obj`` (small, picklable), in rank order, on every rank."""
        return [obj]

    def abort(self, code: int):
        """End this process with ``code``; under MPI, end every rank of the job."""
        sys.exit(code)


class MPICommunicator(Communicator):
    """``COMM_WORLD`` of mpi4py: arrays travel as raw buffers, never pickled."""

    def __init__(self, comm):
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()

    def sum(self, array):
        from mpi4py import MPI
        self.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)
        return array

    def broadcast(self, array):
        self.comm.Bcast(array, root=0)
        return array

    def share(self, obj):
        return self.comm.bcast(obj, root=0)

    def gather(self, obj):
        return self.comm.allgather(obj)

    def abort(self, code):
        # The launcher drops output still in flight when it kills the job: let
        # this rank's last words reach it first. MPI_Abort tells the launcher to
        # kill every rank; it may return before that happens, and this rank
        # must not go on meanwhile.
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(ABORT_GRACE)
        self.comm.Abort(code)
        os._exit(code)


def under_launcher() -> bool:
    """True when an MPI launcher started this process (whatever the number of ranks)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


@functools.cache
def world() -> Communicator:
    """The communicator of this job: MPI's when run by ``mpiexec -n K`` with K > 1.

    Raises
    ------
    ParallelError
        If a launcher started K > 1 processes but mpi4py is not installed
        (each would otherwise train alone and write the same files).
    """
    if not under_launcher():
        return Communicator()
    try:
        from mpi4py import MPI
    except ImportError:
        size = os.environ.get("PMI_SIZE") or os.environ.get("OMPI_COMM_WORLD_SIZE") or "?"
        if size == "1":
            return Communicator()
        raise ParallelError(f"started by an MPI launcher ({size} processes) but mpi4py is not installed: "
                            f"pip install 'vcnn-colorize[mpi]', or run without mpiexec") from None
    comm = MPICommunicator(MPI.COMM_WORLD)
    return comm if comm.size > 1 else Communicator()


def share_of(n: int, comm: Communicator) -> slice:
    """The rows ``[r·n/K, (r+1)·n/K)`` of an n-row batch that rank r of K takes.

    >>> class Rank1Of3(Communicator): rank, size = 1, 3
    >>> share_of(16, Rank1Of3())
    slice(5, 10, None)
    """
    return slice(comm.rank * n // comm.size, (comm.rank + 1) * n // comm.size)


#: Gradients of at least this many bytes are summed alone, in place; the smaller ones share one message.
PACK_BELOW = 256 * 1024


def sum_gradients(grads: list[np.ndarray], comm: Communicator, pack_below: int = PACK_BELOW) -> None:
    """Sum every gradient over the ranks, in place.

    A large array goes in an ``Allreduce`` of its own, straight from its
    memory; the small ones (biases, thin layers) are copied into one flat
    buffer, summed in one ``Allreduce`` and copied back. One message per small
    array would pay a latency each; copying the large ones would cost more
    than the latencies it saves (``benchmarks/bench_mpi.py`` measures both:
    at the paper's width the large arrays are 26 of its 27 MB).

    Parameters
    ----------
    grads : list of C-contiguous ndarrays, one dtype
    comm : Communicator
    pack_below : int
        Size in bytes under which an array is packed (0: none; a huge value:
        all in one buffer).
    """
    if comm.size == 1:
        return
    small = [g for g in grads if g.nbytes < pack_below]
    for g in grads:
        if g.nbytes >= pack_below:
            comm.sum(g)
    if small:
        flat = comm.sum(np.concatenate([g.ravel() for g in small]))
        start = 0
        for g in small:
            g[...] = flat[start:start + g.size].reshape(g.shape)
            start += g.size
