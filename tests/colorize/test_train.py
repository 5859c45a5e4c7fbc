"""Training end to end on tiny photos made here: determinism, resume, jobs=2, Ctrl-C, divergence."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

import vcnn.layers
from colorize.cli import main
from colorize.model import ColorizationModel, architecture, init_network
from colorize.sources import PhotoData, ShardData
from colorize.train import TrainConfig, TrainingError, checkpoint_path, log_path, train
from vcnn.modelfile import load_arrays, save_arrays

REPO = Path(__file__).resolve().parents[2]
TINY = ["--arch", "small", "--channels", "4,4,4,2", "--batch", "2", "--lr", "5", "--momentum", "0",
        "--log-every", "2", "--checkpoint-every", "2"]


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def weights(path):
    return ColorizationModel.load(path).arrays()


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert wa[name].tobytes() == wb[name].tobytes(), name


def test_train_writes_model_logs_and_checkpoints(photos, tmp_path):
    out = tmp_path / "m.npz"
    result = run("train", photos, "-o", out, "--iterations", 4, *TINY)
    assert result.exit_code == 0, result.output
    model = ColorizationModel.load(out)
    assert model.meta["training"]["iterations"] == 4 and model.meta["data"]["photos"] == 3
    for channel in "uv":
        rows = list(csv.DictReader(open(tmp_path / f"m.{channel}.csv")))
        assert [(r["first_step"], r["last_step"]) for r in rows] == [("0", "1"), ("2", "3")]
        assert all(float(r["val_euclidean"]) > 0 and float(r["train_euclidean"]) > 0 for r in rows)
        assert all(r["train_cross_entropy"] == "" for r in rows)     # the default schedule: Euclidean first
        assert (tmp_path / f"m.ckpt-{channel}.npz").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []   # no temp files left


# 128 channels: the 4×4 and 3×3 layers take Winograd's tiles (vcnn.layers.WINOGRAD_WIDTH).
WIDE = [*TINY[:3], "128,128,128,2", "--val-patches", "2", *TINY[4:]]


@pytest.mark.parametrize("options", [TINY, WIDE], ids=["narrow", "on Winograd's tiles"])
def test_same_arguments_same_weights_and_resume_is_exact(photos, tmp_path, options):
    if options is WIDE:                     # its 4×4 and 3×3 layers are on the tiles
        layers = init_network(architecture((128, 128, 128, 2)), 0, "u").steps
        assert sum(isinstance(layer, vcnn.layers.Conv2D) and layer._takes_winograd() for layer in layers) == 2
    straight, twice, resumed = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    assert run("train", photos, "-o", straight, "--iterations", 6, *options).exit_code == 0
    assert run("train", photos, "-o", twice, "--iterations", 6, *options).exit_code == 0
    assert_same_weights(straight, twice)
    assert run("train", photos, "-o", resumed, "--iterations", 3, *options).exit_code == 0
    refused = run("train", photos, "-o", resumed, "--iterations", 6, *options)
    assert refused.exit_code == 1 and "--resume" in refused.stderr
    assert run("train", photos, "-o", resumed, "--iterations", 6, "--resume", *options).exit_code == 0
    assert_same_weights(straight, resumed)
    other = run("train", photos, "-o", resumed, "--iterations", 8, "--resume", *options[:-2], "--seed", "5")
    assert other.exit_code == 1
    assert other.stderr == "error: --seed: checkpoint c.ckpt-u.npz was made with 0, given 5 (leave an option " \
                           "out to keep the checkpoint's value)\n"               # the only thing printed


def test_resume_takes_every_setting_from_the_checkpoint(photos, tmp_path):
    straight, resumed = tmp_path / "a.npz", tmp_path / "b.npz"
    constant = [*TINY, "--lr-half-life", 0, "--seed", 3]      # a constant rate: as in checkpoints made before it could decay
    assert run("train", photos, "-o", straight, "--iterations", 6, *constant).exit_code == 0
    assert run("train", photos, "-o", resumed, "--iterations", 3, *constant).exit_code == 0
    result = run("train", photos, "-o", resumed, "--iterations", 6, "--resume")       # no setting given
    assert result.exit_code == 0, result.output
    assert_same_weights(straight, resumed)
    training = ColorizationModel.load(resumed).meta["training"]
    assert training["seed"] == 3 and training["lr"] == 5 and training["momentum"] == 0
    assert "lr_half_life" not in training and len(training["specs"]) == 9           # small, not deep8
    differ = run("train", photos, "-o", resumed, "--iterations", 8, "--resume", "--arch", "deep8", "--lr", 3)
    assert differ.exit_code == 1 and len(differ.stderr.splitlines()) == 1
    assert "--arch: checkpoint b.ckpt-u.npz was made with channels 4,4,4,2, kernels 11,4,3,1, mapping 8, " \
           "given deep8" in differ.stderr and "--lr: checkpoint b.ckpt-u.npz was made with 5.0, given 3.0" in differ.stderr


def test_defaults_are_the_bundled_recipe(photos, tmp_path):
    from colorize.model import load_model, named_architecture
    assert load_model().specs == named_architecture("deep8")
    out = tmp_path / "m.npz"
    assert run("train", photos, "-o", out, "--iterations", 1, "--val-patches", 2).exit_code == 0
    training = ColorizationModel.load(out).meta["training"]
    assert training["specs"] == named_architecture("deep8")
    assert (training["lr"], training["momentum"], training["batch"], training["lr_half_life"]) == (3, 0.9, 16, 8000)


def test_lr_half_life_sets_every_step_and_resume_is_exact(photos, tmp_path, monkeypatch):
    config = TrainConfig(architecture((4, 4, 4, 2)), 5, batch=2, lr=4.0, lr_half_life=2)
    assert [config.lr_at(s) for s in (0, 1, 2, 4)] == [4.0, 4.0 * 0.5 ** 0.5, 2.0, 1.0]
    assert TrainConfig(config.specs, 5, lr=4.0, lr_half_life=None).lr_at(7) == 4.0
    assert "lr_half_life" not in TrainConfig(config.specs, 5, lr_half_life=None).fingerprint()  # old checkpoints resume
    with pytest.raises(ValueError, match="half-life"):
        TrainConfig(config.specs, 5, lr_half_life=0)
    used, step = [], vcnn.SGD.step
    monkeypatch.setattr(vcnn.SGD, "step", lambda opt: (used.append(opt.lr), step(opt))[1])
    train(photos, tmp_path / "m.npz", config)
    assert used == pytest.approx([4.0, 4 * 2 ** -0.5, 2.0, 2 ** 0.5, 1.0] * 2)     # U's steps, then V's: 4·½^(s/2)
    monkeypatch.undo()
    decayed, resumed = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run("train", photos, "-o", decayed, "--iterations", 6, "--lr-half-life", 1, *TINY).exit_code == 0
    assert run("train", photos, "-o", resumed, "--iterations", 3, "--lr-half-life", 1, *TINY).exit_code == 0
    assert run("train", photos, "-o", resumed, "--iterations", 6, "--lr-half-life", 1, "--resume",
               *TINY).exit_code == 0
    assert_same_weights(decayed, resumed)
    other = run("train", photos, "-o", resumed, "--iterations", 8, "--resume", *TINY, "--lr-half-life", 0)
    assert other.exit_code == 1 and "--lr-half-life: checkpoint b.ckpt-u.npz was made with 1, given none" in other.stderr
    negative = run("train", photos, "-o", tmp_path / "z.npz", "--lr-half-life", -1)
    assert negative.exit_code == 2 and "--lr-half-life" in negative.stderr.splitlines()[-1]


def test_train_returns_the_model_it_writes_and_its_loss_logs(photos, tmp_path):
    config = TrainConfig(architecture((2, 2, 2, 2)), 3, batch=2, log_every=2, val_patches=2)
    trained = train(photos, tmp_path / "m.npz", config)
    saved = ColorizationModel.load(tmp_path / "m.npz")
    assert all(np.array_equal(value, saved.arrays()[name]) for name, value in trained.model.arrays().items())
    assert trained.model.meta["training"] == saved.meta["training"]
    for channel in "uv":
        with open(log_path(tmp_path / "m.npz", channel)) as f:
            written = list(csv.DictReader(f))
        assert [(row["last_step"], float(row["val_euclidean"])) for row in written] == \
            [(str(row["last_step"]), row["val_euclidean"]) for row in trained.logs[channel]] and len(written) == 2


def test_two_jobs_train_the_same_networks(photos, tmp_path):
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    assert run("train", photos, "-o", one, "--iterations", 3, *TINY).exit_code == 0
    result = run("train", photos, "-o", two, "--iterations", 3, "--jobs", 2, *TINY)
    assert result.exit_code == 0, result.output
    w1, w2 = weights(one), weights(two)
    for name in w1:     # one BLAS thread per process instead of two: equal to float32 rounding
        np.testing.assert_allclose(w1[name], w2[name], rtol=1e-4, atol=1e-6)


def test_divergence_stops_with_a_clear_message(photos, tmp_path):
    out = tmp_path / "m.npz"
    result = run("train", photos, "-o", out, "--iterations", 6, *TINY[:6], "--lr", "1e30",
                 "--checkpoint-every", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: u: training diverged at step 1")
    assert "Warning" not in result.output and not out.exists()


def test_divergence_short_of_nan_stops_non_zero_and_keeps_the_last_good_checkpoint(photos, tmp_path, monkeypatch):
    """A learning rate too large blows the weights up to ~1e6 without NaN: stopped, not saved (issue 12, item 4)."""
    out = tmp_path / "m.npz"
    config = TrainConfig(architecture((4, 4, 4, 2)), 6, batch=2, lr=1.0, checkpoint_every=1, log_every=1,
                         val_patches=2)
    monkeypatch.setattr(TrainConfig, "lr_at", lambda self, step: 1.0 if step < 2 else 1e9)
    with pytest.raises(TrainingError, match=r"u: training diverged at step 3 \(a weight reached .*\); "
                                            r"stopped, the checkpoint of step 2 is kept"):
        train(photos, out, config)
    arrays, meta = load_arrays(checkpoint_path(out, "u"))
    assert meta["step"] == 2 and max(np.abs(a).max() for a in arrays.values()) < 100
    assert not out.exists()


def test_patches_then_train_on_shards(photos, tmp_path):
    data = tmp_path / "data"
    result = run("patches", photos, "-o", data, "--shard-size", 5, "--train-shards", 2, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in data.iterdir()) == ["train-000.npz", "train-001.npz", "val-000.npz"]
    shards = ShardData(data)
    assert len(shards.train) == 10 and len(shards.val) == 5
    epoch = np.concatenate([shards.batch(0, s, 2) for s in range(5)])      # one epoch: every pair once
    assert sorted(map(bytes, epoch)) == sorted(map(bytes, np.asarray(shards.train)))
    again = run("patches", photos, "-o", data, "--shard-size", 5)
    assert again.exit_code == 1 and "already holds shards" in again.stderr
    assert run("train", data, "-o", tmp_path / "m.npz", "--iterations", 2, "--val-patches", 3, *TINY).exit_code == 0
    assert ColorizationModel.load(tmp_path / "m.npz").meta["training"]["val_patches"] == 3
    held_out = tmp_path / "held_out"
    result = run("patches", photos / "p0.png", photos / "p1.png", "-o", held_out, "--shard-size", 6,
                 "--train-shards", 1, "--val-photos", photos / "p2.png")
    assert result.exit_code == 0, result.output
    split = ShardData(held_out)       # p0 is red, p1 green, p2 blue: every validation window is p2's
    val, train_windows = np.asarray(split.val), np.asarray(split.train)
    assert (val[..., 2].mean(axis=(1, 2)) > val[..., 0].mean(axis=(1, 2))).all()
    assert not (train_windows[..., 2].mean(axis=(1, 2)) > train_windows[..., 0].mean(axis=(1, 2))).all()
    gray = tmp_path / "gray"
    gray.mkdir()
    iio.imwrite(gray / "g.png", np.full((70, 70), 128, np.uint8))
    (gray / "p0.png").write_bytes((photos / "p0.png").read_bytes())
    result = run("patches", gray, "-o", tmp_path / "from_gray", "--shard-size", 2, "--train-shards", 1)
    assert result.exit_code == 0 and "skipped 1 gray photo (no colour in them): g.png" in result.stderr
    assert np.asarray(ShardData(tmp_path / "from_gray").train).std(axis=-1).min() > 0          # only p0's colour windows
    only_gray = run("patches", gray / "g.png", "-o", tmp_path / "none", "--shard-size", 2)
    assert only_gray.exit_code == 1 and "no colour images found" in only_gray.stderr and "g.png" in only_gray.stderr


def test_long_side_shrinks_the_photos_and_the_model_keeps_that_scale(photos, tmp_path):
    assert {p.shape for p in PhotoData([photos], long_side=72).photos} == {(64, 72, 3)}     # from 80 x 90
    out = tmp_path / "m.npz"
    assert run("train", photos, "-o", out, "--iterations", 2, "--long-side", 72, *TINY).exit_code == 0
    model = ColorizationModel.load(out)
    assert model.long_side == 72 and model.meta["data"]["long_side"] == 72
    data = tmp_path / "data"
    result = run("patches", photos, "-o", data, "--shard-size", 4, "--train-shards", 1, "--long-side", 72)
    assert result.exit_code == 0, result.output
    assert ShardData(data).long_side == 72
    assert run("train", data, "-o", tmp_path / "s.npz", "--iterations", 2, *TINY).exit_code == 0
    assert ColorizationModel.load(tmp_path / "s.npz").long_side == 72          # the shards' scale
    other = run("train", data, "-o", tmp_path / "x.npz", "--iterations", 2, "--long-side", 100, *TINY)
    assert other.exit_code == 1 and "long side 72, not 100" in other.stderr
    small = run("train", photos, "-o", tmp_path / "y.npz", "--iterations", 2, "--long-side", 40, *TINY)
    assert small.exit_code == 1 and "at least 64x64" in small.stderr


@pytest.mark.parametrize("args,words", [
    (["--arch", "huge"], "--arch must be small, paper, deep8 or a JSON file"),
    (["--channels", "4,4"], "--channels needs 7 widths for the kernels (11, 4, 3, 3, 3, 1, 1) of --arch deep8"),
    (["--arch", "small", "--channels", "4,4"], "--channels needs 4 widths"),
    (["--schedule", "l1:5"], "schedule must look like"),
])
def test_bad_training_options(photos, tmp_path, args, words):
    result = run("train", photos, "-o", tmp_path / "m.npz", *args)
    assert result.exit_code == 1 and result.stderr.splitlines()[-1].startswith("error: ") and words in result.stderr


@pytest.mark.parametrize("content,words", [
    ('{"channels": [4, 4, 4]}', '"channels" has 3 widths but the kernels (11, 4, 3, 1) need 4'),
    ('{"channels": [4, 4, 4, 2], "kernels": [11, 4, "3", 1]}', '"kernels" must be a list of positive integers'),
    ('{"channels": [4, 4, 4, 2], "mapping": 0}', '"mapping" must be a positive integer'),
    ('{"channels": [4, 4, 4, 2], "mapping": 30}', '"mapping" 30 with kernels (11, 4, 3, 1) maps'),
    ('{"channels": [4, 4, 4, 2], "kernel": [5, 1]}', 'unknown field "kernel"'),
    ('{"widths": [4, 4, 4, 2]}', 'must hold an object with "channels"'),
    ("channels: 4", "is not valid JSON"),
])
def test_a_bad_architecture_file_names_the_file_and_the_field(photos, tmp_path, content, words):
    arch = tmp_path / "mine.json"
    arch.write_text(content)
    result = run("train", photos, "-o", tmp_path / "m.npz", "--arch", arch)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"error: architecture file {arch}") and words in result.stderr
    assert "--channels" not in result.stderr


def test_an_architecture_file_gets_the_mapping_that_makes_the_centre(photos, tmp_path):
    arch = tmp_path / "deep.json"
    arch.write_text('{"channels": [4, 4, 4, 4, 4, 4, 2], "kernels": [11, 4, 3, 3, 3, 1, 1]}')
    result = run("train", photos, "-o", tmp_path / "m.npz", "--arch", arch, "--iterations", 1, "--val-patches", 2)
    assert result.exit_code == 0, result.output
    assert ColorizationModel.load(tmp_path / "m.npz").specs[-1] == {"type": "full_conv", "c_in": 2, "c_out": 1,
                                                                    "k": 12}


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_exactly(photos, tmp_path):
    out = tmp_path / "m.npz"
    args = [sys.executable, "-m", "colorize", "train", str(photos), "-o", str(out), *TINY[:-1], "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args + ["--iterations", "100000"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / "m.ckpt-u.npz"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]           # a stop the user asked for, not an error
    assert last.startswith("stopped on Ctrl-C: u at step ") and last.endswith("; continue with --resume"), stderr
    assert "error" not in stderr and "Traceback" not in stderr
    step = int(last.split(" at step ")[1].split(" ")[0])
    done = subprocess.run(args + ["--iterations", str(step + 2), "--resume"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    straight = tmp_path / "straight.npz"
    assert run("train", photos, "-o", straight, "--iterations", step + 2, *TINY[:-1], "1").exit_code == 0
    assert_same_weights(out, straight)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads child processes from /proc")
def test_workers_stop_when_the_parent_dies(photos, tmp_path):
    """jobs=2: killing the parent outright (no chance to clean up) must not leave orphans training."""
    args = [sys.executable, "-m", "colorize", "train", str(photos), "-o", str(tmp_path / "m.npz"), *TINY,
            "--iterations", "100000", "--jobs", "2"]
    proc = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def children():
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                if f"PPid:\t{proc.pid}\n" in status.read_text():
                    found.append(int(status.parent.name))
            except OSError:
                pass
        return found

    deadline = time.time() + 120
    while not (tmp_path / "m.ckpt-v.npz").exists() and time.time() < deadline:
        time.sleep(0.2)
    workers = children()
    assert workers, "no worker processes found"
    proc.kill()
    proc.wait()
    deadline = time.time() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in workers if Path(f"/proc/{pid}/status").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert not alive, f"workers {alive} still running after their parent died"


def test_progress_off_a_terminal_is_whole_lines_with_running_means(photos, tmp_path):
    result = run("train", photos, "-o", tmp_path / "m.npz", "--iterations", 4, *TINY)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()          # CliRunner's stderr is no terminal: no bar, no lone label
    assert [line.split(":")[0] for line in lines] == ["u step 2/4", "u step 4/4", "v step 2/4", "v step 4/4"]
    assert all(line.split(": ")[1].startswith(line[0] + " euclidean ") for line in lines)


def test_progress_shows_running_means_and_no_eta_before_steps_are_timed(monkeypatch):
    import colorize.cli_train as cli
    from colorize.model import named_architecture
    clock = iter(range(1000))
    monkeypatch.setattr(cli.time, "perf_counter", lambda: float(next(clock)))
    progress = cli._TrainingProgress(TrainConfig(named_architecture("small"), 10, log_every=1000))
    progress.__enter__()
    shown = []
    for step, loss in enumerate([1.0, 3.0, 2.0, 2.0, 2.0], start=1):
        progress.report("u", step, loss)
        shown.append(progress.status())
    assert "ETA" not in shown[0] and "ETA" not in shown[cli._TrainingProgress.WARMUP - 1]
    assert shown[-1].endswith("ETA 0:00:15")           # 1 s per step since warm-up, 15 of 20 steps left
    mean = 0.9 * 1.0 * 0.1 + 0.1 * 3.0                  # running mean of 1 and 3, debiased
    assert shown[1].startswith(f"u euclidean {mean / (1 - 0.9 ** 2):.5f}")


def test_resume_gaps_are_refused_or_said(photos, tmp_path):
    """Issue 12, item 9: other data refused, a step past --iterations refused, no checkpoint said, old
    checkpoints without a data fingerprint accepted with a note."""
    model = tmp_path / "m.npz"
    assert run("train", photos, "-o", model, "--iterations", 2, *TINY).exit_code == 0
    for channel in "uv":
        assert len(load_arrays(checkpoint_path(model, channel))[1]["data_fingerprint"]) == 32

    past = run("train", photos, "-o", model, "--iterations", 1, "--resume")
    assert past.exit_code == 1 and "is at step 2, past --iterations 1" in past.stderr

    other = tmp_path / "other"
    other.mkdir()
    for p in sorted(photos.iterdir())[:2]:
        (other / p.name).write_bytes(p.read_bytes())
    refused = run("train", other, "-o", model, "--iterations", 3, "--resume")
    assert refused.exit_code == 1 and "was trained on other data" in refused.stderr

    for channel in "uv":                             # as a checkpoint written before fingerprints were
        path = checkpoint_path(model, channel)
        arrays, meta = load_arrays(path)
        del meta["data_fingerprint"], meta["format_version"]
        save_arrays(path, arrays, meta)
    old = run("train", photos, "-o", model, "--iterations", 3, "--resume")
    assert old.exit_code == 0, old.output
    assert "note: checkpoint m.ckpt-u.npz does not record its training data" in old.stderr

    fresh = run("train", photos, "-o", tmp_path / "new.npz", "--iterations", 1, "--resume", *TINY)
    assert fresh.exit_code == 0 and "note: --resume: no checkpoint of" in fresh.stderr


def test_checkpoints_of_shards_fingerprinted_by_content_still_resume(photos, tmp_path):
    """Checkpoints made before shards were fingerprinted from their zip directories recorded a hash of
    every pair: they resume on the same shards, and other data is still refused."""
    data, model = tmp_path / "data", tmp_path / "m.npz"
    assert run("patches", photos, "-o", data, "--shard-size", 4, "--train-shards", 1).exit_code == 0
    assert run("train", data, "-o", model, "--iterations", 1, *TINY).exit_code == 0
    for fingerprint, outcome in ((ShardData(data).content_fingerprint(), 0), ("0" * 32, 1)):
        for channel in "uv":
            path = checkpoint_path(model, channel)
            arrays, meta = load_arrays(path)
            meta = {k: v for k, v in meta.items() if k != "format_version"}
            save_arrays(path, arrays, {**meta, "data_fingerprint": fingerprint})
        result = run("train", data, "-o", model, "--iterations", 2, "--resume")
        assert result.exit_code == outcome, result.output
    assert "was trained on other data" in result.stderr


def test_a_resume_reads_each_checkpoint_once_and_hashes_the_shards_once(photos, tmp_path, monkeypatch):
    """Each checkpoint is read whole once, checked before training (a damaged V is refused before U
    trains), and its network resumes from what was read (twice before, U's 3 times once); shards that
    older checkpoints fingerprinted by content are hashed once for U and V (twice before)."""
    import colorize.checkpoints
    data, model = tmp_path / "data", tmp_path / "m.npz"
    assert run("patches", photos, "-o", data, "--shard-size", 4, "--train-shards", 1).exit_code == 0
    assert run("train", data, "-o", model, "--iterations", 1, *TINY).exit_code == 0
    for channel in "uv":                            # as checkpoints made before zip-directory fingerprints
        path = checkpoint_path(model, channel)
        arrays, meta = load_arrays(path)
        meta = {k: v for k, v in meta.items() if k != "format_version"}
        save_arrays(path, arrays, {**meta, "data_fingerprint": ShardData(data).content_fingerprint()})
    reads, hashes = [], []
    real_load, real_hash = colorize.checkpoints.load_arrays, ShardData.content_fingerprint
    monkeypatch.setattr(colorize.checkpoints, "load_arrays", lambda path: reads.append(path.name) or real_load(path))
    monkeypatch.setattr(ShardData, "content_fingerprint", lambda self: hashes.append(self) or real_hash(self))
    result = run("train", data, "-o", model, "--iterations", 2, "--resume")
    assert result.exit_code == 0, result.output
    assert sorted(reads) == ["m.ckpt-u.npz", "m.ckpt-v.npz"] and len(hashes) == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_resume_starts_from_what_the_check_read(photos, tmp_path, monkeypatch, jobs):
    """The networks resume from the checkpoints as check_resume read them (with --jobs 2, in the worker
    processes too), not from the files read again: spoilt after the check, they do not matter, and the
    resumed run still ends bit for bit where the straight one does."""
    train_module = sys.modules["colorize.train"]       # colorize.train is also the function
    straight, resumed = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run("train", photos, "-o", straight, "--iterations", 4, "--jobs", jobs, *TINY).exit_code == 0
    assert run("train", photos, "-o", resumed, "--iterations", 2, "--jobs", jobs, *TINY).exit_code == 0
    real = train_module.check_resume

    def check_then_spoil(model_path, *args):
        read = real(model_path, *args)
        for channel in "uv":
            checkpoint_path(model_path, channel).write_bytes(b"not a checkpoint")
        return read

    monkeypatch.setattr(train_module, "check_resume", check_then_spoil)
    result = run("train", photos, "-o", resumed, "--iterations", 4, "--jobs", jobs, "--resume")
    assert result.exit_code == 0, result.output
    assert_same_weights(straight, resumed)


@pytest.mark.parametrize("damage", ["nan", "shape"])
def test_a_damaged_checkpoint_of_v_is_refused_before_u_trains(photos, tmp_path, damage):
    """The resume reads every checkpoint's arrays before training: NaN weights or an array of another shape
    in V's are one line and exit 1 at once, and U's checkpoint is left at its step (U did not train first)."""
    model = tmp_path / "m.npz"
    assert run("train", photos, "-o", model, "--iterations", 2, *TINY).exit_code == 0
    u, v = checkpoint_path(model, "u"), checkpoint_path(model, "v")
    arrays, meta = load_arrays(v)
    if damage == "nan":
        arrays["net.0.W"][0, 0] = np.nan
    else:
        arrays["net.0.b"] = np.zeros(arrays["net.0.b"].size + 1, np.float32)
    save_arrays(v, arrays, {k: value for k, value in meta.items() if k != "format_version"})
    before = u.read_bytes()
    result = run("train", photos, "-o", model, "--iterations", 4, "--resume")
    assert result.exit_code == 1 and str(v) in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert u.read_bytes() == before and load_arrays(u)[1]["step"] == 2


def test_the_readmes_disk_figures_are_what_patches_writes(photos, tmp_path):
    sizes = {}
    for n in (10, 20):
        assert run("patches", photos, "-o", tmp_path / str(n), "--shard-size", n, "--train-shards", 1,
                   "--val-shards", 0).exit_code == 0
        sizes[n] = (tmp_path / str(n) / "train-000.npz").stat().st_size
    per_window = (sizes[20] - sizes[10]) / 10
    assert per_window == 64 * 64 * 3                                     # uncompressed RGB windows
    shard_mb = 10_000 * per_window / 1e6
    readme = (REPO / "README.md").read_text()
    assert f"{shard_mb:.1f} MB on disk" in readme
    assert f"21 × {shard_mb:.1f} MB = {21 * shard_mb / 1000:.1f} GB" in readme


def test_a_loss_blow_up_is_measured_against_the_runs_early_losses(photos, tmp_path, monkeypatch):
    """One lucky near-gray first batch is no reference; a loss 100 times the early ones is divergence."""
    training = sys.modules["colorize.loop"]
    losses = iter([0.0001] + [0.01] * 11 + [0.5, 2.0])
    real = training._channel_loss

    def scripted(*args):
        loss, dz = real(*args)
        return next(losses), dz * 0

    monkeypatch.setattr(training, "_channel_loss", scripted)
    config = TrainConfig(architecture((2, 2, 2, 2)), 20, batch=2, schedule="euclidean:100",
                         checkpoint_every=100, log_every=100, val_patches=2)
    with pytest.raises(TrainingError, match=r"diverged at step 13 \(the euclidean loss reached 2, 200 times"):
        training.train_channel("u", init_network(config.specs, 0, "u"), PhotoData([photos]), config, tmp_path / "m.npz")


@pytest.mark.slow
def test_the_determinism_promise_is_the_threads_per_network(photos, tmp_path):
    """Issue 12, item 9: what the README promises. --jobs 2 trains each network on one thread; a resumed
    --jobs 2 run ends bit for bit where the straight one does; and --jobs 1 on one thread (the thread
    variables at 1) gives those same bits: the weights depend on the threads per network, not on --jobs. Where
    the engine's own GEMM runs (512-bit vectors), --jobs 1 on two threads gives them too."""
    one_thread = {**os.environ, **dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                 "NUMBA_NUM_THREADS"), "1")}

    def train_cli(out, iterations, *extra, env=None):
        done = subprocess.run([sys.executable, "-m", "colorize", "train", str(photos), "-o", str(out),
                               "--iterations", str(iterations), *TINY, *extra], capture_output=True, text=True,
                              env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    straight, resumed, single = tmp_path / "straight.npz", tmp_path / "resumed.npz", tmp_path / "single.npz"
    train_cli(straight, 4, "--jobs", "2")
    train_cli(resumed, 2, "--jobs", "2")
    train_cli(resumed, 4, "--jobs", "2", "--resume")
    assert_same_weights(straight, resumed)
    train_cli(single, 4, env=one_thread)
    assert_same_weights(straight, single)
    if vcnn.layers.OWN_GEMM:              # the engine's tile: the 32-wide nets' sums do not depend on threads
        default = tmp_path / "default.npz"
        train_cli(default, 4, env={**os.environ, "NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
        assert_same_weights(straight, default)
