"""Tests of colorize.evaluate on tiny colour photos made in tmp_path."""
import json

import imageio.v3 as iio
import numpy as np
import pytest

from colorize.evaluate import evaluate, format_table, write_results
from colorize.images import ImageError, read_image
from colorize.metrics import colourfulness, psnr_uv
from colorize.model import ColorizationModel, architecture
from colorize.yuv import rgb_to_yuv

H, W = 24, 30
OPTIONS = {"radius": 4, "eps": 1e-3}


def _photo(seed):
    """A smooth colour photo: gradients of different colours."""
    r = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, W)[None, :, None] * r.random(3) + np.linspace(0, 1, H)[:, None, None] * r.random(3)
    return np.round(255 * np.clip(ramp / 2 + 0.1, 0, 1)).astype(np.uint8)


@pytest.fixture(scope="module")
def model():
    return ColorizationModel(architecture((4, 4, 4, 2)), rng=0)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        iio.imwrite(folder / f"p{i}.png", _photo(i))
    return folder


def test_the_images_of_the_photos_asked_for_are_returned_and_not_written(photos, model, tmp_path):
    results = evaluate([photos], model, keep_images=[photos / "p1.png"], json_path=tmp_path / "r.json", **OPTIONS)
    (name, images), = results["outputs"].items()
    assert name.endswith("p1.png") and list(images) == ["gray", "network", "refined", "truth"]
    truth = read_image(photos / "p1.png")[0]
    np.testing.assert_array_equal(images["truth"], truth)
    gray = rgb_to_yuv(truth)[..., 0]                                    # the luminance in all three channels
    np.testing.assert_allclose(images["gray"], np.repeat(gray[..., None], 3, axis=-1), atol=1e-6)
    assert np.abs(images["network"] - images["refined"]).max() > 0
    assert "outputs" not in json.loads((tmp_path / "r.json").read_text())
    assert "outputs" not in evaluate([photos], model, **OPTIONS)


def test_metrics_per_image_and_overall(photos, model):
    results = evaluate([photos], model, **OPTIONS)
    assert results["count"] == 2 and results["failed"] == {}
    assert set(results["images"]) == {str(photos / "p0.png"), str(photos / "p1.png")}
    for name, methods in results["images"].items():
        assert list(methods) == ["gray", "network", "refined"]
        truth, _ = read_image(name)
        yuv = rgb_to_yuv(truth.astype(np.float64))
        gray = methods["gray"]
        # The baseline is U = V = 0, checked against the metric computed here.
        assert gray["psnr_uv"] == pytest.approx(psnr_uv(np.zeros_like(yuv), yuv), abs=1e-3)
        assert gray["colourfulness_pred"] == pytest.approx(0, abs=1e-6)
        assert gray["colourfulness_true"] == pytest.approx(colourfulness(truth))
        assert methods["network"]["psnr_uv"] != gray["psnr_uv"]
    for method in ("gray", "network", "refined"):
        for key in ("psnr_rgb", "psnr_uv", "mae_chroma", "auc", "colourfulness_pred"):
            values = [m[method][key] for m in results["images"].values()]
            assert results["overall"][method][key] == pytest.approx(np.mean(values))


def test_without_refinement_there_is_no_refined_column(photos, model):
    results = evaluate(photos, model, refine=False)
    assert list(results["overall"]) == ["gray", "network"]


def test_json_holds_the_same_numbers(photos, model, tmp_path):
    results = evaluate(photos, model, **OPTIONS)
    write_results(results, tmp_path / "r.json")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["count"] == 2
    for method, metrics in results["overall"].items():
        for key, value in metrics.items():
            assert saved["overall"][method][key] == pytest.approx(value)


def test_json_turns_nan_into_null(tmp_path):
    write_results({"overall": {"gray": {"colourfulness_ratio": float("nan")}}}, tmp_path / "n.json")
    assert json.loads((tmp_path / "n.json").read_text()) == {"overall": {"gray": {"colourfulness_ratio": None}}}


@pytest.mark.parametrize("refine, columns", [(True, 4), (False, 3)])
def test_compare_strips(photos, model, tmp_path, refine, columns):
    evaluate(photos, model, refine=refine, compare_dir=tmp_path / "strips", **OPTIONS)
    from colorize.evaluate import CAPTION_HEIGHT
    strip = iio.imread(tmp_path / "strips" / "p1_compare.png")
    truth = _photo(1)
    assert strip.shape == (CAPTION_HEIGHT + H, columns * W, 3)
    strip = strip[CAPTION_HEIGHT:]                                      # the pictures, under their captions
    gray = strip[:, :W].astype(int)
    assert np.all(gray[..., 0] == gray[..., 1]) and np.all(gray[..., 1] == gray[..., 2])
    np.testing.assert_array_equal(strip[:, -W:], truth)
    assert not np.array_equal(strip[:, W:2 * W], strip[:, :W])       # the network added colour
    assert sorted(p.name for p in (tmp_path / "strips").iterdir()) == ["p0_compare.png", "p1_compare.png"]


def test_a_bad_photo_is_reported_and_skipped(photos, model):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    lines = []
    results = evaluate([photos, photos / "missing.png"], model, report=lines.append, **OPTIONS)
    assert results["count"] == 2
    assert set(results["failed"]) == {str(photos / "broken.png"), str(photos / "missing.png")}
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    with pytest.raises(ImageError, match="broken.png"):
        evaluate(photos, model, **OPTIONS)


def test_format_table(photos, model):
    results = evaluate(photos, model, **OPTIONS)
    table = format_table(results)
    for word in ("p0.png", "p1.png", "overall (2 photos)", "gray", "network", "refined", "PSNR-RGB", "AuC"):
        assert word in table
    overall = table[table.index("overall"):]
    assert f"{results['overall']['network']['psnr_rgb']:.2f}" in overall
    assert "no photo evaluated" in format_table({"images": {}, "overall": {}, "count": 0, "failed": {}})


def test_mean_chroma_baseline_and_standard_errors(photos, model):
    """The constant-chroma baseline scores that chroma on every pixel; the standard error is std/√n."""
    u, v = 0.05, -0.03
    results = evaluate(photos, model, mean_chroma=(u, v), **OPTIONS)
    for name, methods in results["images"].items():
        assert list(methods) == ["gray", "mean chroma", "network", "refined"]
        truth, _ = read_image(name)
        yuv = rgb_to_yuv(truth.astype(np.float64))
        constant = np.stack([yuv[..., 0], np.full(yuv.shape[:2], u), np.full(yuv.shape[:2], v)], -1)
        assert methods["mean chroma"]["psnr_uv"] == pytest.approx(psnr_uv(constant, yuv), abs=0.05)
    values = [m["mean chroma"]["auc"] for m in results["images"].values()]
    assert results["stderr"]["mean chroma"]["auc"] == pytest.approx(abs(values[0] - values[1]) / 2)
    assert "standard error of the overall mean" in format_table(results)
    with pytest.raises(ValueError, match="mean chroma"):
        evaluate(photos, model, mean_chroma=(u, float("nan")), **OPTIONS)


def test_cli_mean_chroma_option(photos):
    from click.testing import CliRunner
    from colorize.cli import main
    result = CliRunner().invoke(main, ["evaluate", str(photos), "--mean-chroma", "0.01,-0.02", "--radius", "4"])
    assert result.exit_code == 0 and "  mean chroma" in result.output
    result = CliRunner().invoke(main, ["evaluate", str(photos), "--mean-chroma", "blue"])
    assert result.exit_code == 2 and "expected two numbers U,V" in result.output


def test_a_photo_is_judged_gray_in_one_pass_within_a_gray_jpegs_noise(tmp_path, model, monkeypatch):
    """Grayness is computed once per photo (`read_image`'s ``gray_tol``), not exactly there and again with
    GRAY_TOL here; a photo whose channels differ by 1/255 (a gray JPEG's noise) is still skipped as gray."""
    import colorize.images
    from colorize.evaluate import evaluate_image
    calls = []
    real = colorize.images.is_gray

    def counted(rgb, tol=colorize.images.GRAY_TOL):
        calls.append(tol)
        return real(rgb, tol)

    monkeypatch.setattr(colorize.images, "is_gray", counted)
    iio.imwrite(tmp_path / "colour.png", _photo(0))
    assert evaluate_image(tmp_path / "colour.png", model, **OPTIONS) is not None
    assert len(calls) == 1, calls
    noisy = np.repeat(_photo(1)[..., :1], 3, axis=-1)
    noisy[::2, ::3, 1] += 1                                         # one level off here and there
    iio.imwrite(tmp_path / "noisy.png", noisy)
    assert evaluate_image(tmp_path / "noisy.png", model, **OPTIONS) is None
    assert len(calls) == 2
