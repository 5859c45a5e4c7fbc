"""Training and apply under ``mpiexec -n 2`` against one process, on one machine.

Every run is a real ``mpiexec`` in a subprocess with a timeout: a hang is a
failure, not a stuck test. On one machine mpich's ranks talk through shared
memory, with no network (they even run with every interface down).
"""
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from colorize.model import ColorizationModel, architecture

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install '.[mpi]')")
pytestmark = [pytest.mark.mpi, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec on PATH (pip install '.[mpi]')")]

REPO = Path(__file__).resolve().parents[2]
# One BLAS and one Numba thread per process, in the 1-process runs too: the
# same GEMMs, so that apply writes the same bytes whatever the thread count.
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "NUMBA_NUM_THREADS": "1"}
# --batch 5 splits 2 + 3 over 2 ranks: uneven shares must weigh right.
TINY = ["--arch", "small", "--channels", "4,4,4,2", "--batch", "5", "--lr", "5", "--momentum", "0",
        "--log-every", "2", "--checkpoint-every", "2"]
TIMEOUT = 300
# Equal to float32 rounding: the ranks sum the batch's gradient in another order.
RTOL, ATOL = 1e-5, 1e-7


def colorize(*args, ranks=1, timeout=TIMEOUT, **kwargs):
    command = [sys.executable, "-m", "colorize", *map(str, args)]
    if ranks > 1:
        command = ["mpiexec", "-n", str(ranks)] + command
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=timeout, **kwargs)


def weights(path):
    return ColorizationModel.load(path).arrays()


def loss_log(path):
    return [{k: float(v) for k, v in row.items() if k not in ("channel", "seconds") and v != ""}
            for row in csv.DictReader(open(path))]


def test_two_ranks_reach_the_weights_of_one_process_and_resume_exactly(photos, tmp_path):
    one, two, resumed = tmp_path / "one.npz", tmp_path / "two.npz", tmp_path / "resumed.npz"
    assert (r := colorize("train", photos, "-o", one, "--iterations", 4, *TINY)).returncode == 0, r.stderr
    r = colorize("train", photos, "-o", two, "--iterations", 4, *TINY, ranks=2)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("model written") == 1                         # rank 0 alone speaks
    w1, w2 = weights(one), weights(two)
    assert w1.keys() == w2.keys()
    for name in w1:
        np.testing.assert_allclose(w2[name], w1[name], rtol=RTOL, atol=ATOL, err_msg=name)
    for channel in "uv":                                                # the same loss curves
        log1, log2 = loss_log(tmp_path / f"one.{channel}.csv"), loss_log(tmp_path / f"two.{channel}.csv")
        assert len(log1) == len(log2) == 2
        for row1, row2 in zip(log1, log2):
            assert row1.keys() == row2.keys()
            np.testing.assert_allclose([row2[k] for k in row2], [row1[k] for k in row1], rtol=RTOL)

    assert colorize("train", photos, "-o", resumed, "--iterations", 2, *TINY, ranks=2).returncode == 0
    r = colorize("train", photos, "-o", resumed, "--iterations", 4, "--resume", *TINY, ranks=2)
    assert r.returncode == 0, r.stderr
    w3 = weights(resumed)
    for name in w2:                         # the same ranks and the same sums: bit for bit
        assert w3[name].tobytes() == w2[name].tobytes(), name


def test_ctrl_c_under_mpiexec_stops_every_rank_at_one_step(photos, tmp_path):
    out = tmp_path / "m.npz"
    command = ["mpiexec", "-n", "2", sys.executable, "-m", "colorize", "train", str(photos), "-o", str(out),
               *TINY[:-1], "1", "--iterations", "100000"]
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt, deadline = tmp_path / "m.ckpt-u.npz", time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)         # mpiexec passes it on to every rank
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    stops = [line for line in stderr.splitlines() if line.startswith("stopped on Ctrl-C: ")]
    assert len(stops) == 1 and " at step " in stops[0] and "--resume" in stops[0], stderr
    assert "error" not in stderr, stderr
    step = int(stops[0].split(" at step ")[1].split(" ")[0])
    r = colorize("train", photos, "-o", out, *TINY[:-1], "1", "--iterations", step + 1, "--resume", ranks=2)
    assert r.returncode == 0, r.stderr


def test_a_failing_rank_ends_the_job_with_its_message(photos, tmp_path):
    # Rank 0 trains on the photos and waits for rank 1 in the first collective;
    # rank 1 (the second program of the MPMD command line) cannot find its data.
    args = ["train", None, "-o", str(tmp_path / "m.npz"), *TINY, "--iterations", "4"]
    program = [sys.executable, "-m", "colorize"]
    command = ["mpiexec", "-n", "1", *program, *[str(photos) if a is None else a for a in args],
               ":", "-n", "1", *program, *[str(tmp_path / "missing") if a is None else a for a in args]]
    r = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert f"error: rank 1: training data {tmp_path / 'missing'} does not exist" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "m.npz").exists()


def test_sharded_apply_writes_the_files_of_one_process(tmp_path):
    model = tmp_path / "m.npz"
    ColorizationModel(architecture((4, 4, 4, 2)), rng=0).save(model)
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        iio.imwrite(inputs / f"g{i}.png", rng.integers(0, 256, (40 + 9 * i, 70 - 5 * i), dtype=np.uint8))
    (inputs / "broken.png").write_bytes(b"not an image")
    runs = {k: colorize("apply", inputs, "-o", tmp_path / f"out{k}", "--model", model, "--radius", 4, ranks=k)
            for k in (1, 2)}
    for r in runs.values():     # the broken file: reported once, exit 1 on every rank, no abort
        assert r.returncode == 1, r.stderr
        assert r.stderr.count("error: ") == 1 and "broken.png" in r.stderr and "Abort" not in r.stderr
    assert runs[2].stdout.replace("out2", "out1") == runs[1].stdout      # rank 0 lists all, in input order
    names = sorted(p.name for p in (tmp_path / "out1").iterdir())
    assert names == [f"g{i}_colorized.png" for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == names
    for name in names:
        assert (tmp_path / "out2" / name).read_bytes() == (tmp_path / "out1" / name).read_bytes(), name
