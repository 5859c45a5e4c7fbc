"""Messages that say what happened (issue 12, items 2 and 10): pixel limit, permissions, memory,
temporary files, skipped outputs, Ctrl-C, infinite PSNR."""
import errno
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

import colorize.apply
from colorize.cli import main
from colorize.images import ImageError, read_image
from colorize.metrics import PSNR_MAX, image_metrics
from colorize.model import ColorizationModel


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def huge_png(path, width, height):
    """A valid PNG header declaring width x height gray pixels, with one tiny deflated row of data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))


def test_an_image_beyond_the_pixel_limit_says_so_and_how_to_raise_it(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    huge_png(big, 13000, 13000)
    with pytest.raises(ImageError, match=r"13000x13000 pixels, more than the limit of 100,000,000 pixels "
                                         r"\(set the environment variable COLORIZE_MAX_PIXELS"):
        read_image(big)
    monkeypatch.setenv("COLORIZE_MAX_PIXELS", "1000")
    small = tmp_path / "small.png"
    iio.imwrite(small, np.zeros((40, 30), np.uint8))
    with pytest.raises(ImageError, match="40 pixels, more than the limit of 1,000"):
        read_image(small)
    monkeypatch.setenv("COLORIZE_MAX_PIXELS", "1200")
    assert read_image(small)[0].shape == (40, 30, 3)


def test_a_permission_error_is_not_called_an_unrecognised_file(tmp_path, monkeypatch):
    photo = tmp_path / "p.png"
    iio.imwrite(photo, np.zeros((4, 4), np.uint8))

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(photo))

    monkeypatch.setattr("PIL.Image.open", denied)
    with pytest.raises(ImageError, match="p.png: Permission denied"):
        read_image(photo)


def test_memory_error_is_one_line_naming_the_file_and_the_batch_goes_on(tmp_path, model_file, monkeypatch):
    for name in ("a", "b"):
        iio.imwrite(tmp_path / f"{name}.png", np.zeros((8, 8), np.uint8))
    real = colorize.apply.chroma_strips

    def short_of_memory(y, *args, **kwargs):
        if not short_of_memory.failed:
            short_of_memory.failed = True
            raise MemoryError()
        return real(y, *args, **kwargs)

    short_of_memory.failed = False
    monkeypatch.setattr(colorize.apply, "chroma_strips", short_of_memory)
    result = run("apply", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "out", "--model", model_file)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: " in result.stderr and "a.png: out of memory" in result.stderr
    assert (tmp_path / "out" / "b_colorized.png").is_file()


def test_skipped_colorized_files_are_reported(tmp_path, model_file):
    folder = tmp_path / "in"
    folder.mkdir()
    iio.imwrite(folder / "a.png", np.zeros((8, 8), np.uint8))
    iio.imwrite(folder / "my_colorized.png", np.zeros((8, 8), np.uint8))     # the user's own file
    result = run("apply", folder, "-o", tmp_path / "out", "--model", model_file)
    assert result.exit_code == 0, result.output
    assert "note: skipped 1 file named *_colorized.* in" in result.stderr and "my_colorized.png" in result.stderr


def test_ctrl_c_before_training_starts_is_one_line(tmp_path, monkeypatch):
    import colorize.cli_common

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(colorize.cli_common, "load_model", interrupted)
    result = run("apply", tmp_path, "-o", tmp_path / "out")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == ["stopped on Ctrl-C: no file is left half-written"]


def test_a_perfect_prediction_scores_a_finite_psnr():
    rgb = np.full((4, 4, 3), 0.5, np.float32)
    metrics = image_metrics(rgb, rgb)
    assert metrics["psnr_rgb"] == metrics["psnr_uv"] == PSNR_MAX


def test_evaluate_on_a_constant_photo_gives_finite_overall_numbers(tmp_path, model_file):
    iio.imwrite(tmp_path / "flat.png", np.full((10, 10, 3), (128, 100, 60), np.uint8))     # one colour
    result = run("evaluate", tmp_path / "flat.png", "--model", model_file, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    overall = json.loads((tmp_path / "r.json").read_text())["overall"]
    for method in ("gray", "network", "refined"):
        for key in ("psnr_rgb", "psnr_uv", "mae_chroma", "auc"):
            assert isinstance(overall[method][key], float) and overall[method][key] <= PSNR_MAX, (method, key)
    iio.imwrite(tmp_path / "gray.png", np.full((10, 10), 128, np.uint8))           # a gray one is skipped (issue 11)
    gray = run("evaluate", tmp_path / "gray.png", "--model", model_file)
    assert gray.exit_code == 1 and "skipped 1 gray photo" in gray.stderr and "only gray ones" in gray.stderr


def test_a_bare_name_is_a_bundled_model_and_a_path_is_a_file(tmp_path, model_file, monkeypatch):
    """One rule (issue 12, item 7): folders or files in the current folder never shadow a bundled name."""
    from colorize.model import bundled_models, is_model_path, load_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()                               # a folder named like the default model
    (tmp_path / "sepia").write_bytes(model_file.read_bytes())    # a file named like a bundled model
    assert "sepia" in bundled_models()
    bundled = load_model("sepia")
    assert bundled.specs != ColorizationModel.load(model_file).specs    # the bundled one, not ./sepia
    assert load_model("./sepia").specs == ColorizationModel.load(model_file).specs
    iio.imwrite(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    assert run("apply", "x.png", "-o", "out", "--radius", 2).exit_code == 0     # the bundled default
    result = run("apply", "x.png", "-o", "out2", "--model", "nosuch")
    assert result.exit_code == 1 and "not a bundled model" in result.stderr and "./nosuch" in result.stderr
    assert [is_model_path(x) for x in ("a", "a.npz", "A.NPZ", "d/a", tmp_path / "a")] == [False, True, True, True, True]


_CRASH_AFTER_START_UP = """
import os, signal, sys, time
sys.argv = ["colorize", "info", "default"]          # as the command: start-up's handler and excepthook are set
import colorize.cli


def crash(**options):
    print(sys.excepthook is sys.__excepthook__, signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    try:                                            # a Ctrl-C that the command itself handles
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        pass
    raise RuntimeError("a real bug")


colorize.cli.main.commands["info"].callback = crash
colorize.cli.main(prog_name="colorize")
"""


def _ctrl_c_not_ignored():
    """In the child: SIGINT as a terminal gives it (a shell's background job, as CI may be, starts with it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_ignored_ctrl_c_stays_ignored_while_the_command_starts():
    """A command started with SIGINT ignored (``nohup``, a background job) is not made interruptible."""
    code = ("import signal, sys; sys.argv = ['colorize']; import colorize; "
            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert result.stdout.split() == ["True"], result.stdout + result.stderr


def test_once_the_command_runs_a_real_error_is_not_reported_as_ctrl_c(tmp_path):
    """Start-up's SIGINT handler and excepthook (one line for a Ctrl-C while Python imports) are Python's
    own again once the command runs: an error after a Ctrl-C the command handled shows as itself."""
    (tmp_path / "crash.py").write_text(_CRASH_AFTER_START_UP)
    result = subprocess.run([sys.executable, tmp_path / "crash.py"], capture_output=True, text=True, timeout=300,
                            preexec_fn=_ctrl_c_not_ignored)
    assert result.stdout.split() == ["True", "True"], result.stdout + result.stderr
    assert result.returncode == 1 and "stopped on Ctrl-C" not in result.stderr
    assert result.stderr.strip().endswith("RuntimeError: a real bug"), result.stderr


def _interrupt_when(command, ready, cwd):
    """Start ``python -m colorize COMMAND`` in a session of its own, wait until ``ready(pid)``, then Ctrl-C it
    the way a terminal does (SIGINT to the whole process group); its exit code and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "colorize", *map(str, command)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=cwd,
                            preexec_fn=_ctrl_c_not_ignored)
    deadline = time.monotonic() + 120
    while not ready(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def _mapped(pid, name):
    """Whether the process has loaded a shared library whose path holds `name` (it is importing that module)."""
    try:
        return name in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _children(pid):
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches the process through /proc")
def test_ctrl_c_while_starting_is_one_line_and_a_non_zero_exit(tmp_path, model_file):
    """Issue 12, item 8: Ctrl-C while Python imports numpy, Numba or Pillow for the command, or while
    `train --jobs 2` starts its worker processes, or while they import: one line, no traceback, exit != 0."""
    iio.imwrite(tmp_path / "g.png", np.zeros((20, 30), np.uint8))
    photos = tmp_path / "photos"
    photos.mkdir()
    yy, xx = np.mgrid[0:100, 0:120] / 120
    iio.imwrite(photos / "p.png", (np.stack([yy, xx, 1 - yy], -1) * 255).astype(np.uint8))
    apply = ["apply", tmp_path / "g.png", "-o", tmp_path / "out", "--model", model_file, "--overwrite"]

    def train(name):
        return ["train", photos, "-o", tmp_path / name, "--arch", "small", "--channels", "4,4,4,2", "--batch", 2,
                "--iterations", 100000, "--val-patches", 2, "--jobs", 2]

    moments = [(apply, lambda pid: _mapped(pid, "_multiarray_umath")),        # numpy
               (apply, lambda pid: _mapped(pid, "llvmlite")),                 # Numba
               (apply, lambda pid: _mapped(pid, "PIL/_imaging")),             # Pillow
               (train("a.npz"), lambda pid: len(_children(pid)) >= 1),        # a worker process is starting
               (train("b.npz"), lambda pid: any(_mapped(c, "_multiarray_umath") for c in _children(pid)))]
    for command, ready in moments:
        code, err = _interrupt_when(command, ready, tmp_path)
        lines = err.strip().splitlines()
        assert code != 0 and "Traceback" not in err, err
        assert len(lines) == 1 and lines[0].startswith("stopped on Ctrl-C"), err
