"""Careless and hostile option values, architecture files, model and checkpoint metadata (issue 12, items 3, 8)."""
import json
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from colorize.cli import main
from colorize.checkpoints import load_checkpoint, save_checkpoint
from colorize.model import ColorizationModel, architecture, init_network, parse_architecture
from colorize.train import TrainConfig
from vcnn import SGD
from vcnn.modelfile import load_arrays, save_arrays


def run(*args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a RuntimeWarning before the error fails the test
        return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *words):
    assert result.exit_code in (1, 2), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "Warning" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "p.png"
    iio.imwrite(path, np.random.default_rng(0).integers(0, 256, (70, 70, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize("args,words", [
    (["apply", "{photo}", "-o", "{tmp}/o", "--batch", 10 ** 9], ["--batch", "1<=x<=256"]),
    (["apply", "{photo}", "-o", "{tmp}/o", "--radius", 10 ** 30], ["--radius", "0<=x<=100000"]),
    (["apply", "{photo}", "-o", "{tmp}/o", "--eps", "nan"], ["--eps", "not a finite number"]),
    (["train", "{photo}", "-o", "{tmp}/m.npz", "--batch", 10 ** 9], ["--batch"]),
    (["train", "{photo}", "-o", "{tmp}/m.npz", "--val-patches", 10 ** 9], ["--val-patches"]),
    (["train", "{photo}", "-o", "{tmp}/m.npz", "--lr", "inf"], ["--lr", "not a finite number"]),
    (["train", "{photo}", "-o", "{tmp}/m.npz", "--weight-decay", "1e308"], ["lr x weight_decay must be below 1"]),
    (["train", "{photo}", "-o", "{tmp}/m.npz", "--seed", -1], ["--seed"]),
    (["patches", "{photo}", "-o", "{tmp}/s", "--shard-size", 10 ** 9], ["--shard-size"]),
    (["patches", "{photo}", "-o", "{tmp}/s", "--seed", -1], ["--seed"]),
])
def test_option_values_beyond_the_limits_are_one_line(photo, tmp_path, args, words):
    args = [str(a).format(photo=photo, tmp=tmp_path) for a in args]
    one_error_line(run(*args), *words)


@pytest.mark.parametrize("content,words", [
    ({"channels": [4, 4, 4, 2], "kernels": 5}, ['"kernels" must be a list']),
    ({"channels": [4, 4, 4, 2], "mapping": 1e400}, ['"mapping" must be']),
    ({"channels": [4.5, 4, 4, 2]}, ['"channels" must be a list of positive integers']),
    ({"channels": [True, 4, 4, 2]}, ['"channels" must be a list of positive integers']),
    ({"channels": [10000, 10000, 10000, 10000]}, ["weights, more than the limit"]),
    ({"channels": [4, 4, 4, 2], "kernels": [11, 4, 3, 10 ** 6]}, ["do not fit"]),
    ({"channels": "32"}, ['"channels" must be']),
])
def test_bad_architecture_files_are_one_line(photo, tmp_path, content, words):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(content).replace("Infinity", "1e400"))
    one_error_line(run("train", photo, "-o", tmp_path / "m.npz", "--arch", arch), "arch.json", *words)


def test_an_endless_architecture_file_is_refused_without_reading_it_all(photo, tmp_path):
    one_error_line(run("train", photo, "-o", tmp_path / "m.npz", "--arch", "/dev/zero"), "not a regular file")
    big = tmp_path / "big.json"
    big.write_text(" " * 100_000 + "{}")
    one_error_line(run("train", photo, "-o", tmp_path / "m.npz", "--arch", big), "larger than")


def test_widths_are_never_truncated():
    with pytest.raises(ValueError, match="whole numbers"):
        architecture((4.5, 4, 4, 4))
    assert parse_architecture("small", "4,4,4,2")[0]["c_out"] == 4


@pytest.mark.parametrize("change,words", [
    ({"patch": 10 ** 12}, "patch must be a whole number of pixels in 1..1024"),
    ({"patch": "64"}, "patch must be"),
    ({"architecture": [{"type": "conv", "c_in": 1, "c_out": 10 ** 9, "k": 11}]}, "c_out must be an integer"),
])
def test_model_metadata_beyond_the_limits_is_refused_before_allocating(tmp_path, change, words):
    model = ColorizationModel(architecture((2, 2, 2, 2)), rng=0)
    path = tmp_path / "m.npz"
    meta = {"architecture": model.specs, "patch": 64, **change}
    save_arrays(path, model.arrays(), meta)
    with pytest.raises(ValueError, match=words):
        ColorizationModel.load(path)


@pytest.mark.parametrize("change,field", [
    ({"step": "abc"}, "step"), ({"log": None}, "log"), ({"elapsed": "x"}, "elapsed"), ({"step": True}, "step"),
])
def test_checkpoint_metadata_of_the_wrong_type_is_one_clear_error(tmp_path, change, field):
    config = TrainConfig(architecture((2, 2, 2, 2)), 4)
    net = init_network(config.specs, 0, "u")
    opt = SGD(net.parameters(), config.lr)
    path = tmp_path / "m.ckpt-u.npz"
    save_checkpoint(path, net, opt, "u", 2, config, [], 1.0)
    arrays, meta = load_arrays(path)
    meta = {k: v for k, v in meta.items() if k != "format_version"}
    meta.update(change)
    if change.get("log", 0) is None:
        del meta["log"]
    save_arrays(path, arrays, meta)
    with pytest.raises(ValueError, match=f"field '{field}'"):
        load_checkpoint(path, net, opt, config)
