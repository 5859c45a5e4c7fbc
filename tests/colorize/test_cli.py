"""Tests of the colorize command line: through click's CliRunner, and once as a real process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

import colorize.model
from colorize.cli import main
from colorize.images import read_image
from colorize.model import ColorizationModel
from colorize.yuv import rgb_to_gray

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path, rng):
    """A folder with a gray, a colour and an RGBA image, and a lone gray file."""
    folder = tmp_path / "in"
    folder.mkdir()
    iio.imwrite(folder / "gray.png", rng.integers(0, 256, (20, 30), dtype=np.uint8))
    iio.imwrite(folder / "colour.jpg", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    iio.imwrite(folder / "alpha.png", rng.integers(0, 256, (12, 10, 4), dtype=np.uint8))
    iio.imwrite(tmp_path / "lone.png", rng.integers(0, 256, (9, 11), dtype=np.uint8))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_error_line(result, *words, code=(1, 2)):
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_apply_a_file_and_a_folder(images, model_file):
    out = images / "out"
    result = run("apply", images / "lone.png", images / "in", "-o", out, "--model", model_file, "--radius", 3)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["alpha_colorized.png", "colour_colorized.png", "gray_colorized.png", "lone_colorized.png"]
    assert sorted(Path(line).name for line in result.stdout.split()) == names
    rgb, info = read_image(out / "gray_colorized.png")
    gray, _ = read_image(images / "in" / "gray.png")
    assert rgb.shape == (20, 30, 3) and not info.gray
    np.testing.assert_allclose(rgb_to_gray(rgb), gray[..., 0], atol=1 / 255)   # luminance kept


def test_default_out_is_the_current_folder(images, model_file, monkeypatch):
    monkeypatch.chdir(images)
    assert run("apply", "lone.png", "--model", model_file).exit_code == 0
    assert (images / "lone_colorized.png").is_file()


def test_refuses_to_overwrite_an_output_unless_asked(images, model_file):
    target = images / "lone_colorized.png"
    target.write_bytes(b"precious")
    result = run("apply", images / "lone.png", "-o", images, "--model", model_file)
    assert_one_error_line(result, "already exists", "--overwrite", code=1)
    assert target.read_bytes() == b"precious"
    assert run("apply", images / "lone.png", "-o", images, "--model", model_file, "--overwrite").exit_code == 0
    assert read_image(target)[0].shape == (9, 11, 3)


def test_never_overwrites_an_input(images, model_file):
    folder = images / "in"
    victim = folder / "gray_colorized.png"                   # an input that is also gray.png's output name
    iio.imwrite(victim, np.zeros((5, 5), np.uint8))
    before = victim.read_bytes()
    result = run("apply", folder / "gray.png", victim, "-o", folder, "--model", model_file, "--overwrite")
    assert result.exit_code == 1
    assert "would overwrite the input" in result.stderr and "Traceback" not in result.output
    assert victim.read_bytes() == before
    assert (folder / "gray_colorized_colorized.png").is_file()


def test_a_folder_processed_again_into_itself_skips_its_outputs(images, model_file):
    folder = images / "in"
    inputs = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert run("apply", folder, "-o", folder, "--model", model_file).exit_code == 0
    again = run("apply", folder, "-o", folder, "--model", model_file, "--overwrite")
    assert again.exit_code == 0, again.output
    assert not list(folder.glob("*_colorized_colorized*"))
    assert all((folder / name).read_bytes() == data for name, data in inputs.items())
    assert len(list(folder.iterdir())) == 2 * len(inputs)


def test_alpha_bit_depth_and_colour_note(images, model_file, tmp_path, rng):
    iio.imwrite(images / "deep.png", rng.integers(0, 2 ** 16, (10, 14), dtype=np.uint16))
    out = tmp_path / "o"
    result = run("apply", images / "in" / "alpha.png", images / "in" / "colour.jpg", images / "deep.png",
                 "-o", out, "--model", model_file)
    assert result.exit_code == 0, result.output
    assert "note: " in result.stderr and "colour.jpg is in colour" in result.stderr
    assert "deep.png is in colour" not in result.stderr

    rgba_in = iio.imread(images / "in" / "alpha.png")
    rgba_out = iio.imread(out / "alpha_colorized.png")
    assert rgba_out.shape == (12, 10, 4)
    np.testing.assert_array_equal(rgba_out[..., 3], rgba_in[..., 3])

    header = (out / "deep_colorized.png").read_bytes()[:26]
    assert header[24] == 16 and header[25] == 2                 # 16-bit RGB (Pillow reads it as 8)
    deep, info = read_image(images / "deep.png")
    assert info.bit_depth == 16
    np.testing.assert_allclose(rgb_to_gray(read_image(out / "deep_colorized.png")[0]), deep[..., 0],
                               atol=1 / 255)


def test_equalize_and_no_refine_run(images, model_file, tmp_path):
    result = run("apply", images / "lone.png", "-o", tmp_path, "--model", model_file, "--equalize",
                 "--no-refine", "--batch", 1)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lone_colorized.png").is_file()


@pytest.mark.parametrize("command", [[], ["apply"], ["evaluate"], ["patches"], ["train"]])
def test_help_shows_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Example" in result.output
    assert "colorize " + (command[0] if command else "apply") in result.output


def test_missing_file(images, model_file):
    assert_one_error_line(run("apply", images / "nope.png", "--model", model_file), "nope.png", "no such file")


@pytest.mark.parametrize("content, words", [
    (b"this is text", ["not a recognised image"]),
    (None, ["fake.png"]),                                         # a truncated PNG
])
def test_unreadable_images(images, model_file, content, words, tmp_path):
    if content is None:
        content = (images / "in" / "gray.png").read_bytes()[:60]
    (images / "fake.png").write_bytes(content)
    result = run("apply", images / "fake.png", "-o", tmp_path / "o", "--model", model_file)
    assert_one_error_line(result, "fake.png", *words, code=1)
    assert list((tmp_path / "o").iterdir()) == []                # not even a temporary file


def test_wrong_model_files(images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.npz").write_text("not a model")
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    for bad, words in ((tmp_path / "text.npz", ["text.npz", "not a valid .npz"]),
                       (tmp_path / "arrays.npz", ["arrays.npz", "metadata"]),
                       ("no_such_model", ["no_such_model", "is not a bundled model"])):
        assert_one_error_line(run("apply", images / "lone.png", "--model", bad), *words, code=1)
    assert not (tmp_path / "lone_colorized.png").exists()


def test_model_file_keeps_its_working_scale_and_long_side_overrides_it(images, model_file, tmp_path):
    scaled = tmp_path / "scaled.npz"
    ColorizationModel.load(model_file, long_side=10).save(scaled)
    assert ColorizationModel.load(scaled).long_side == 10 and ColorizationModel.load(model_file).long_side is None
    assert ColorizationModel.load(scaled, long_side=0).long_side is None and ColorizationModel.load(scaled, 20).long_side == 20
    outputs = {}
    for name, args in {"native": ["--model", model_file], "scaled": ["--model", scaled],
                       "override": ["--model", scaled, "--long-side", 0]}.items():
        result = run("apply", images / "in" / "gray.png", "-o", tmp_path / name, *args)
        assert result.exit_code == 0, result.output
        outputs[name] = read_image(tmp_path / name / "gray_colorized.png")[0]
    np.testing.assert_array_equal(outputs["override"], outputs["native"])     # --long-side 0: full size
    assert np.abs(outputs["scaled"] - outputs["native"]).max() > 1 / 255     # 20x30 seen as 7x10
    assert_one_error_line(run("apply", images / "lone.png", "--model", model_file, "--long-side", "-5"),
                          "--long-side")


def test_a_bad_working_scale_in_a_model_file_is_one_line(images, model_file, tmp_path):
    from vcnn.modelfile import load_arrays, save_arrays
    arrays, meta = load_arrays(model_file)
    save_arrays(tmp_path / "bad.npz", arrays, {**meta, "long_side": -3})
    assert_one_error_line(run("apply", images / "lone.png", "--model", tmp_path / "bad.npz"),
                          "bad.npz", "working scale", code=1)


def test_missing_default_model_is_one_clear_line(images, monkeypatch):
    monkeypatch.setattr(colorize.model, "bundled_models", lambda: {})
    assert_one_error_line(run("apply", images / "lone.png"), "model default", "--model PATH", code=1)


@pytest.mark.parametrize("option", [["--radius", "-1"], ["--radius", "big"], ["--eps", "0"],
                                    ["--eps", "nan"], ["--batch", "0"]])
def test_bad_option_values(images, model_file, option):
    result = run("apply", images / "lone.png", "--model", model_file, *option)
    assert_one_error_line(result, option[0] if option[1] != "nan" else "eps")


def test_usage_errors_are_one_line_too():
    assert_one_error_line(run("apply"), "Missing argument", code=2)
    assert_one_error_line(run("paint"), "No such command", code=2)


def test_several_inputs_one_bad(images, model_file, tmp_path):
    (images / "in" / "bad.png").write_text("not an image")
    result = run("apply", images / "in", images / "missing.png", "-o", tmp_path, "--model", model_file)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "bad.png" in errors[1] and "missing.png" in errors[0]
    assert len(list(tmp_path.glob("*_colorized.png"))) == 3
    assert "Traceback" not in result.output


def test_an_empty_folder_is_an_error(tmp_path, model_file):
    (tmp_path / "empty").mkdir()
    assert_one_error_line(run("apply", tmp_path / "empty", "--model", model_file), "no image files found")


def test_evaluate_prints_writes_json_and_strips(images, model_file, tmp_path):
    result = run("evaluate", images / "in", "--model", model_file, "--json", tmp_path / "r.json",
                 "--compare", tmp_path / "strips", "--radius", 3)
    assert result.exit_code == 0, result.output
    assert "overall (2 photos)" in result.stdout and "gray" in result.stdout      # gray.png is skipped
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["count"] == 2 and set(saved["overall"]) == {"gray", "network", "refined"}
    assert saved["gray_skipped"] == ["gray.png"] and not (tmp_path / "strips" / "gray_compare.png").exists()
    from colorize.evaluate import CAPTION_HEIGHT
    assert iio.imread(tmp_path / "strips" / "alpha_compare.png").shape == (CAPTION_HEIGHT + 12, 4 * 10, 3)


def test_evaluate_with_a_bad_photo(images, model_file):
    (images / "in" / "bad.png").write_text("not an image")
    result = run("evaluate", images / "in", "--model", model_file)
    assert result.exit_code == 1
    assert "overall (2 photos)" in result.stdout and "error: cannot read image" in result.stderr


def test_python_m_colorize_in_a_real_process(images, model_file, tmp_path):
    out = tmp_path / "real_out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "colorize", "apply", str(images / "lone.png"),
                           str(images / "in"), "-o", str(out), "--model", str(model_file)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(list(out.glob("*_colorized.png"))) == 4
    assert "Traceback" not in proc.stderr


def test_version_and_short_help():
    version = next(line.split("=")[1].strip() for line in (REPO / "setup.cfg").read_text().splitlines()
                   if line.startswith("version"))
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"colorize {version}\n"
    for command in [[], *[[name] for name in main.commands]]:
        short, long = run(*command, "-h"), run(*command, "--help")
        assert short.exit_code == 0 and short.stdout == long.stdout and "Usage: " in short.stdout


def test_every_option_has_help():
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"colorize {name} {param.opts[0]} has no help"


def test_shell_completion_as_the_readme_says():
    assert "eval \"$(_COLORIZE_COMPLETE=bash_source colorize)\"" in (REPO / "README.md").read_text()
    script = CliRunner().invoke(main, [], prog_name="colorize", env={"_COLORIZE_COMPLETE": "bash_source"})
    assert script.exit_code == 0 and "_colorize_completion()" in script.stdout
    words = CliRunner().invoke(main, [], prog_name="colorize", env={
        "_COLORIZE_COMPLETE": "bash_complete", "COMP_WORDS": "colorize in", "COMP_CWORD": "1"})
    assert words.stdout.split() == ["plain,info"]


def test_info_describes_a_model(model_file):
    bundled = run("info")
    assert bundled.exit_code == 0, bundled.output
    text = bundled.stdout
    for words in ["(bundled 'default')", "deep8: 7 convolutions 11x11, 4x4, 3x3, 3x3, 3x3, 1x1, 1x1",
                  "12x12 mapping layer", "104,192 (U 52,096, V 52,096)", "long side 320 px", "momentum 0.9",
                  "final losses   U (steps", "evaluation     on 200 photos of test/: gray: PSNR RGB",
                  "licence        trained on BSDS500", "non-commercial research"]:
        assert words in text, words
    mine = run("info", model_file, "--json")
    assert mine.exit_code == 0, mine.output
    described = json.loads(mine.stdout)
    model = ColorizationModel.load(model_file)
    assert described["architecture"]["name"] == "channels 4,4,4,2, kernels 11,4,3,1, mapping 8"
    assert described["parameters"]["total"] == sum(a.size for a in model.arrays().values())
    assert described["long_side"] is None and described["bundled"] is None and described["evaluation"] is None
    assert "your photos" in described["licence"]
    assert_one_error_line(run("info", "no_such_model"), "is not a bundled model", code=1)


def _loss_log(path, rows=8, every=50):
    """A loss log as 'colorize train' writes it: phases of 100 steps, Euclidean first."""
    from colorize.loop import LOG_FIELDS
    lines = [",".join(LOG_FIELDS)]
    for i in range(rows):
        phases = {(step // 100) % 2 for step in range(i * every, (i + 1) * every)}     # 0: Euclidean, 1: CE
        loss = 1.0 / (i + 1)
        lines.append(",".join(map(str, ["u", i * every, (i + 1) * every - 1, loss if 0 in phases else "",
                                        10 * loss if 1 in phases else "", loss, 10 * loss, i])))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_plot_draws_the_loss_logs(tmp_path):
    pytest.importorskip("matplotlib")
    _loss_log(tmp_path / "m.u.csv")
    _loss_log(tmp_path / "m.v.csv")
    result = run("plot", tmp_path / "m.npz", "-o", tmp_path / "curves.png")     # a model stands for its logs
    assert result.exit_code == 0, result.output
    picture = iio.imread(tmp_path / "curves.png")
    assert picture.shape[:2] == (700, 900) and picture[..., :3].std() > 10
    assert not list(tmp_path.glob(".*"))                                          # no temporary file left
    assert_one_error_line(run("plot", tmp_path / "none.npz"), "no loss log for", code=1)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    assert_one_error_line(run("plot", tmp_path / "x.csv"), "is not a loss log", code=1)


def test_plot_shades_phases_only_when_a_logged_step_holds_one_loss(tmp_path):
    """Phases of 100 steps logged every 50: shaded; logged every 300, each row holds both losses: not shaded."""
    pytest.importorskip("matplotlib")
    shaded = {}
    for every in (50, 300):
        log = _loss_log(tmp_path / f"e{every}.u.csv", every=every)
        assert run("plot", log, "-o", tmp_path / f"{every}.png").exit_code == 0
        shaded[every] = (iio.imread(tmp_path / f"{every}.png")[..., :3] == 217).all(axis=-1).mean()   # grey 0.85
    assert shaded[50] > 0.05 and shaded[300] < 0.001


def test_plot_shades_each_logs_own_phases(tmp_path):
    """Logs of different schedules: each log's cross-entropy phases in a tint of its own colour, whichever
    log comes first (the phased log second, after one whose rows each hold both losses)."""
    pytest.importorskip("matplotlib")
    from matplotlib import colors, rcParams
    import colorize.curves
    mixed, phased = _loss_log(tmp_path / "a.u.csv", every=300), _loss_log(tmp_path / "b.u.csv", every=50)
    assert run("plot", mixed, phased, "-o", tmp_path / "two.png").exit_code == 0
    picture = iio.imread(tmp_path / "two.png")[..., :3].astype(int)
    second = np.array(colors.to_rgb(rcParams["axes.prop_cycle"].by_key()["color"][1]))
    alpha = colorize.curves.SHADE_ALPHA
    tint = np.round(255 * (1 - alpha + alpha * second))                        # over the white panel
    assert (np.abs(picture - tint) <= 1).all(axis=-1).mean() > 0.05            # b's phases, in b's colour
    assert (picture == 217).all(axis=-1).mean() < 0.001                          # no grey: not one schedule


def test_plot_says_which_logs_are_not_shaded_beside_shaded_ones(tmp_path, monkeypatch):
    """A log whose rows hold both losses keeps its "phases not shaded" note when another log is shaded."""
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes
    titles, real = [], Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda self, text, *a, **k: titles.append(text) or real(self, text, *a, **k))
    mixed, phased = _loss_log(tmp_path / "a.u.csv", every=300), _loss_log(tmp_path / "b.u.csv", every=50)
    assert run("plot", mixed, phased, "-o", tmp_path / "two.png").exit_code == 0
    assert titles[-1].splitlines()[1:] == ["shaded in each log's colour: its cross-entropy phases",
                                           "a.u: losses alternate within a logged step: phases not shaded"]
    assert run("plot", mixed, "-o", tmp_path / "one.png").exit_code == 0
    assert titles[-1].splitlines()[1:] == ["losses alternate within a logged step: phases not shaded"]


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    _loss_log(tmp_path / "m.u.csv")
    monkeypatch.setitem(sys.modules, "matplotlib", None)            # import matplotlib now fails
    result = run("plot", tmp_path / "m.u.csv", "-o", tmp_path / "c.png")
    assert_one_error_line(result, "needs matplotlib", "pip install 'vcnn-colorize[plot]'", code=1)
    assert not (tmp_path / "c.png").exists()


def test_every_command_that_lists_photos_skips_the_tools_outputs(images, model_file, tmp_path, rng):
    folder = images / "in"
    assert run("apply", folder, "-o", folder, "--model", model_file).exit_code == 0     # outputs beside inputs
    assert len(list(folder.glob("*_colorized.png"))) == 3
    toned = run("tone", folder, "-o", tmp_path / "toned", "--style", "sepia")
    assert toned.exit_code == 0 and toned.stdout.startswith("3 sepia photos"), toned.output
    assert not list((tmp_path / "toned").glob("*colorized*"))
    scored = run("evaluate", folder, "--model", model_file, "--json", tmp_path / "r.json")
    assert scored.exit_code == 0 and "_colorized" not in scored.stdout
    big = tmp_path / "big"                  # patches needs photos of at least 64x64
    big.mkdir()
    for name in ("a.png", "b.png"):
        iio.imwrite(big / name, rng.integers(0, 256, (70, 70, 3), dtype=np.uint8))
    assert run("apply", big, "-o", big, "--model", model_file).exit_code == 0
    shards = run("patches", big, "-o", tmp_path / "data", "--shard-size", 2, "--train-shards", 1)
    assert shards.exit_code == 0, shards.output
    assert json.loads(np.load(tmp_path / "data" / "train-000.npz")["meta"].tobytes())["photos"] == 2
    explicit = run("tone", folder / "gray_colorized.png", "-o", tmp_path / "t2", "--style", "sepia")
    assert explicit.exit_code == 0                                    # a file named is always taken


def test_evaluate_skips_gray_photos_as_train_does(images, model_file, tmp_path, rng):
    result = run("evaluate", images / "in", "--model", model_file)
    assert result.exit_code == 0, result.output
    assert result.stderr == "skipped 1 gray photo (no colour in them): gray.png\n"
    assert "overall (2 photos)" in result.stdout and "gray.png" not in result.stdout
    only_gray = run("evaluate", images / "lone.png", "--model", model_file)
    assert only_gray.exit_code == 1 and only_gray.stderr.splitlines() == [
        "skipped 1 gray photo (no colour in them): lone.png",
        f"error: no colour photos to score in {images / 'lone.png'}: only gray ones"]
    photos = tmp_path / "photos"
    photos.mkdir()
    iio.imwrite(photos / "g.png", np.full((70, 70), 128, np.uint8))
    iio.imwrite(photos / "c.png", rng.integers(0, 256, (70, 70, 3), dtype=np.uint8))
    trained = run("train", photos, "-o", tmp_path / "m.npz", "--arch", "small", "--channels", "2,2,2,2",
                  "--iterations", 1, "--val-patches", 1, "--batch", 2)
    assert trained.exit_code == 0, trained.output
    assert trained.stderr.splitlines()[0] == "note: skipped 1 gray photo (no colour in them): g.png"


def test_no_lone_words_on_a_stderr_that_is_no_terminal(images, model_file, tmp_path, rng):
    iio.imwrite(tmp_path / "big.png", rng.integers(0, 256, (70, 70, 3), dtype=np.uint8))
    for args in (["apply", images / "in", "-o", tmp_path / "a", "--model", model_file],
                 ["evaluate", images / "in", "--model", model_file],
                 ["tone", images / "in", "-o", tmp_path / "t", "--style", "sepia"],
                 ["patches", tmp_path / "big.png", "-o", tmp_path / "d", "--shard-size", 2, "--train-shards", 2]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        for line in result.stderr.splitlines():          # whole sentences ("note: ...", "skipped ..."), no bar labels
            assert len(line.split()) > 2, (args[0], line)


def test_compare_strips_have_a_caption_row_and_the_table_says_which_way_is_better(images, model_file, tmp_path):
    from colorize.evaluate import CAPTION_HEIGHT
    result = run("evaluate", images / "in" / "colour.jpg", "--model", model_file, "--compare", tmp_path / "s",
                 "--radius", 3)
    assert result.exit_code == 0, result.output
    strip = iio.imread(tmp_path / "s" / "colour_compare.png").astype(float)
    assert strip.shape == (CAPTION_HEIGHT + 16, 4 * 16, 3)
    caption, pictures = strip[:CAPTION_HEIGHT], strip[CAPTION_HEIGHT:]
    truth = iio.imread(images / "in" / "colour.jpg").astype(float)
    np.testing.assert_allclose(pictures[:, 3 * 16:], truth, atol=1)          # the pictures are untouched below
    for column in range(4):                                                     # every column is named, in ink
        cell = caption[:, column * 16:(column + 1) * 16]
        assert cell.max() == 255 and cell.min() < 128
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["(better)", "higher", "higher", "lower", "higher", "~truth"]
    assert "MAE-UV     mean absolute error of U, V; lower is better" in lines
    assert any(line.startswith("AuC ") and "higher is better" in line for line in lines)


def test_readme_and_help_agree_on_formats_and_gitignore_covers_the_readme(tmp_path):
    from colorize.images import IMAGE_EXTENSIONS
    readme, help_text = (REPO / "README.md").read_text(), run("apply", "--help").stdout
    names = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
    assert set(names) == IMAGE_EXTENSIONS
    assert "PNG/JPEG/TIFF/BMP" in readme and "PNG, JPEG, TIFF, BMP" in help_text
    ignored = (REPO / ".gitignore").read_text().split()
    assert {".venv/", ".venv-ci/", "colorized/"} <= set(ignored) and "-o colorized/" in readme


def test_16_bit_rgba_in_gives_16_bit_rgba_out(tmp_path, model_file, rng):
    """Issue 12, item 6: the bit depth and the alpha channel of a 16-bit colour PNG are kept: the output's
    luma matches the input's to 16-bit precision, not 8-bit."""
    from colorize.pngfile import write_png
    pixels = rng.integers(0, 2 ** 16, (9, 13, 4), dtype=np.uint16)
    write_png(tmp_path / "deep.png", pixels)
    result = run("apply", tmp_path / "deep.png", "-o", tmp_path / "o", "--model", model_file)
    assert result.exit_code == 0, result.output
    out = (tmp_path / "o" / "deep_colorized.png").read_bytes()
    assert out[24] == 16 and out[25] == 6                       # 16-bit RGBA
    rgb_in, info_in = read_image(tmp_path / "deep.png")
    rgb_out, info_out = read_image(tmp_path / "o" / "deep_colorized.png")
    assert info_out.bit_depth == 16
    np.testing.assert_array_equal(info_out.alpha, info_in.alpha)
    np.testing.assert_allclose(rgb_to_gray(rgb_out), rgb_to_gray(rgb_in), atol=1e-4)   # 8 bits: errors to 2e-3


def test_palette_transparency_comes_out_as_alpha(tmp_path, model_file):
    """Issue 12, item 6: a palette entry made transparent (tRNS) is kept by apply, as an alpha channel."""
    from PIL import Image
    levels = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    image = Image.fromarray(levels).convert("P")
    image.save(tmp_path / "keyed.png", transparency=int(np.asarray(image)[1, 2]))
    palette_index = np.asarray(Image.open(tmp_path / "keyed.png"))
    transparent = Image.open(tmp_path / "keyed.png").info["transparency"]
    result = run("apply", tmp_path / "keyed.png", "-o", tmp_path / "o", "--model", model_file)
    assert result.exit_code == 0, result.output
    out = iio.imread(tmp_path / "o" / "keyed_colorized.png")
    assert out.shape == (4, 4, 4)
    np.testing.assert_array_equal(out[..., 3] == 0, palette_index == transparent)
    assert (palette_index == transparent).sum() >= 1
