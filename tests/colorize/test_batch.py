"""Outputs never destroy data (colorize/batch.py's `check_output`, used by every writing command)."""
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from colorize.batch import check_output, prepare_folder
from colorize.cli import main
from colorize.model import ColorizationModel
from colorize.patches import write_shards



@pytest.fixture
def data(tmp_path, rng):
    """A folder of two colour photos."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        iio.imwrite(folder / f"p{i}.png", rng.integers(0, 256, (70, 72, 3), dtype=np.uint8))
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *words):
    assert result.exit_code in (1, 2), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_check_output_rules(tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"photo")
    with pytest.raises(ValueError, match="would overwrite the input"):
        check_output(photo, [tmp_path / "." / "p.png"], overwrite=True)
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_output(photo)
    assert check_output(photo, overwrite=True) == photo
    with pytest.raises(ValueError, match="is a folder"):
        check_output(tmp_path, overwrite=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output(tmp_path / "nodir" / "x.json")
    with pytest.raises(OSError, match="not a folder"):
        prepare_folder(photo)
    with pytest.raises(OSError, match="cannot create"):
        prepare_folder(photo / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]      # the probe leaves nothing


def test_train_never_writes_over_its_data_or_an_existing_model(data, tmp_path):
    before = snapshot(data)
    one_error_line(run("train", data, "-o", data / "p0.png"), ".npz")
    (data / "p2.npz").write_bytes(b"not a photo, but the data's file")
    before = snapshot(data)
    one_error_line(run("train", data, "-o", data / "p2.npz", "--overwrite"), "would overwrite the input")
    assert snapshot(data) == before
    model = tmp_path / "existing.npz"
    model.write_bytes(b"precious model")
    one_error_line(run("train", data, "-o", model, "--iterations", 1), "already exists", "--overwrite")
    one_error_line(run("train", data, "-o", model, "--iterations", 1, "--resume"), "already exists")
    assert model.read_bytes() == b"precious model"


def test_train_overwrite_replaces_the_model(data, tmp_path):
    model = tmp_path / "existing.npz"
    model.write_bytes(b"old")
    result = run("train", data, "-o", model, "--iterations", 1, "--arch", "small", "--channels", "2,2,2,2", "--val-patches", 1,
                 "--overwrite")
    assert result.exit_code == 0, result.output
    assert ColorizationModel.load(model).specs[0]["c_out"] == 2


def test_evaluate_never_writes_json_over_a_photo_and_checks_before_working(data, model_file, tmp_path,
                                                                          monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the photos were processed before the outputs were checked")

    monkeypatch.setattr(sys.modules["colorize.evaluate"], "colorize_yuv", no_work)
    before = snapshot(data)
    one_error_line(run("evaluate", data / "p0.png", data / "p1.png", "--json", data / "p0.png",
                       "--model", model_file, "--overwrite"), "would overwrite the input")
    one_error_line(run("evaluate", data, "--json", tmp_path / "nodir" / "x.json", "--model", model_file),
                   "nodir", "does not exist")
    (tmp_path / "r.json").write_text("keep")
    one_error_line(run("evaluate", data, "--json", tmp_path / "r.json", "--model", model_file), "--overwrite")
    (tmp_path / "afile").write_text("")
    one_error_line(run("evaluate", data, "--compare", tmp_path / "afile" / "strips", "--model", model_file),
                   "afile")
    assert snapshot(data) == before and (tmp_path / "r.json").read_text() == "keep"


def test_evaluate_refuses_existing_strips_unless_overwrite(data, model_file, tmp_path):
    strips = tmp_path / "strips"
    strips.mkdir()
    (strips / "p0_compare.png").write_bytes(b"keep")
    result = run("evaluate", data, "--compare", strips, "--model", model_file, "--radius", 2)
    assert result.exit_code == 1 and "p0_compare.png already exists" in result.stderr
    assert (strips / "p0_compare.png").read_bytes() == b"keep" and (strips / "p1_compare.png").is_file()
    result = run("evaluate", data, "--compare", strips, "--model", model_file, "--radius", 2, "--overwrite")
    assert result.exit_code == 0, result.output
    from colorize.evaluate import CAPTION_HEIGHT
    assert iio.imread(strips / "p0_compare.png").shape == (CAPTION_HEIGHT + 70, 4 * 72, 3)


def test_apply_checks_its_folder_before_working(data, model_file, tmp_path):
    (tmp_path / "afile").write_text("")
    one_error_line(run("apply", data, "-o", tmp_path / "afile" / "out", "--model", model_file), "afile")


def test_patches_checks_outputs_before_reading_photos(data, tmp_path, monkeypatch):
    import colorize.patches

    out = tmp_path / "shards"
    out.mkdir()
    (out / "val-000.npz").write_bytes(b"keep")
    monkeypatch.setattr(colorize.patches, "load_photos", lambda *a, **k: pytest.fail("photos read first"))
    with pytest.raises(ValueError, match="already holds shards"):
        write_shards([data], out, 4, 1, 1)
    photo_named_like_a_shard = data / "train-000.npz"
    photo_named_like_a_shard.write_bytes(b"an input")
    with pytest.raises(ValueError, match="would overwrite the input"):
        write_shards([photo_named_like_a_shard], data, 4, 1, 0)
    assert (out / "val-000.npz").read_bytes() == b"keep"


def test_tone_same_collision_rules_as_apply_and_honest_counts(tmp_path, rng):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        iio.imwrite(tmp_path / d / "a.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    (tmp_path / "d1" / "bad.png").write_text("not an image")
    out = tmp_path / "o1"
    result = run("tone", tmp_path / "d1" / "a.png", tmp_path / "d2" / "a.png", tmp_path / "d1" / "bad.png",
                 "-o", out, "--style", "sepia")
    assert result.exit_code == 1
    assert "1 sepia photos in" in result.stdout and "(2 failed)" in result.stdout
    assert "already the output of" in result.stderr and "cannot read image" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    toned = (out / "a.png").read_bytes()
    again = run("tone", tmp_path / "d1", "-o", out, "--style", "sepia")        # the rerun: refused, one line
    assert again.exit_code == 1 and "a.png already exists (--overwrite replaces it)" in again.stderr
    assert (out / "a.png").read_bytes() == toned
    replaced = run("tone", tmp_path / "d2", "-o", out, "--style", "sepia", "--overwrite")
    assert replaced.exit_code == 0 and (out / "a.png").read_bytes() != toned
    into_itself = run("tone", tmp_path / "d2", "-o", tmp_path / "d2", "--style", "sepia", "--overwrite")
    assert into_itself.exit_code == 1 and "would overwrite the input" in into_itself.stderr
