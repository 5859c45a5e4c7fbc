"""The communicator without MPI: shares of a batch, the gradient sum, when MPI is used at all."""
import sys

import numpy as np
import pytest

from colorize import parallel
from colorize.parallel import Communicator, ParallelError, share_of, sum_gradients


class Rank(Communicator):
    """Rank ``rank`` of ``size`` whose Allreduce adds the other ranks' equal arrays: ×size."""

    def __init__(self, rank=0, size=2):
        self.rank, self.size, self.calls = rank, size, 0

    def sum(self, array):
        self.calls += 1
        array *= self.size
        return array


@pytest.mark.parametrize("n,size", [(16, 2), (5, 2), (7, 3), (4, 4)])
def test_the_shares_cover_the_batch_once(n, size):
    shares = [share_of(n, Rank(r, size)) for r in range(size)]
    assert shares[0].start == 0 and shares[-1].stop == n
    assert all(a.stop == b.start and a.stop > a.start for a, b in zip(shares, shares[1:]))


@pytest.mark.parametrize("pack_below,calls", [(0, 3), (parallel.PACK_BELOW, 2), (sys.maxsize, 1)])
def test_gradients_are_summed_in_place_packed_or_not(pack_below, calls):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(shape).astype(np.float32) for shape in [(512, 8, 4, 4), (7,), (3, 2, 5, 5)]]
    before = [g.copy() for g in grads]
    comm = Rank()
    sum_gradients(grads, comm, pack_below)
    assert comm.calls == calls              # the 256 KB array alone, the two small ones together
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, 2 * b)


def test_one_process_without_a_launcher(monkeypatch):
    for name in parallel.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)        # would fail if it were imported
    comm = parallel.world.__wrapped__()
    assert (comm.rank, comm.size) == (0, 1)
    grads = [np.ones(3, np.float32)]
    sum_gradients(grads, comm)
    np.testing.assert_array_equal(grads[0], 1)


def test_a_launcher_without_mpi4py_is_an_error(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ParallelError, match=r"\[mpi\]"):
        parallel.world.__wrapped__()
    monkeypatch.setenv("PMI_SIZE", "1")                    # mpiexec -n 1: one process, MPI or not
    assert parallel.world.__wrapped__().size == 1
