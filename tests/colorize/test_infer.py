"""Tests of colorize.infer: tiling, batching, luminance, refinement, equalisation."""
import math

import numpy as np
import pytest

from colorize.guided_filter import guided_filter
from colorize.equalize import equalize
from colorize.infer import colorize_y, predict_chroma, tile_windows, window_grid
from colorize.pipeline import colorize_image, colorize_yuv, yuv_to_rgb_in_gamut
from colorize.model import ColorizationModel, architecture
from colorize.yuv import U_RANGE, V_RANGE, YUV_TO_RGB, rgb_to_gray, rgb_to_yuv, yuv_to_rgb

SIZES = [(1, 1), (1, 100), (100, 1), (55, 55), (56, 56), (57, 57), (113, 30), (37, 71)]


class CentreModel:
    """A fake model whose U is its window's centre Y and V is 1 - Y.

    A correct tiling therefore gives back (Y, 1 - Y) at every pixel; it also
    records the batch sizes it was called with and every window it saw.
    """

    def __init__(self, patch=64, out=56):
        self.patch, self.out = patch, out
        self.margin = (patch - out) // 2
        self.calls, self.seen = [], []

    def predict(self, y):
        self.calls.append(len(y))
        self.seen.append(y.copy())
        m = self.margin
        centre = y[:, m:m + self.out, m:m + self.out]
        return np.stack([centre, 1 - centre], axis=1)


class IndexModel(CentreModel):
    """A fake model that fills each window's output with the window's index (in call order)."""

    def predict(self, y):
        start = sum(self.calls)
        self.calls.append(len(y))
        index = np.arange(start, start + len(y), dtype=np.float32)
        return np.broadcast_to(index[:, None, None, None], (len(y), 2, self.out, self.out))


@pytest.fixture(scope="module")
def tiny_model():
    return ColorizationModel(architecture((4, 4, 4, 2)), rng=0)


@pytest.mark.parametrize("h, w", SIZES)
def test_window_grid_arithmetic(h, w):
    patch, out, margin = 64, 56, 4
    rows, cols, ((top, bottom), (left, right)) = window_grid(h, w, patch, out)
    for n, count, first, last in ((h, rows, top, bottom), (w, cols, left, right)):
        assert count == math.ceil(n / out)
        assert first == margin and last >= patch - out - margin
        assert first + n + last == (count - 1) * out + patch        # the last window ends at the edge
        centres = [set(range(k * out, (k + 1) * out)) & set(range(n)) for k in range(count)]
        assert sum(map(len, centres)) == n and set().union(*centres) == set(range(n))


@pytest.mark.parametrize("h, w", SIZES)
@pytest.mark.parametrize("batch", [1, 3, 16])
def test_every_pixel_comes_from_its_own_window_exactly_once(h, w, batch, rng):
    y = rng.random((h, w), dtype=np.float32)
    model = CentreModel()
    uv = colorize_y(y, model, batch=batch)
    assert uv.shape == (h, w, 2) and uv.dtype == np.float32
    np.testing.assert_array_equal(uv[..., 0], y)
    np.testing.assert_array_equal(uv[..., 1], 1 - y)
    rows, cols = math.ceil(h / 56), math.ceil(w / 56)
    assert sum(model.calls) == rows * cols and max(model.calls) <= batch

    coded = colorize_y(y, IndexModel(), batch=batch)
    r, c = np.indices((h, w))
    np.testing.assert_array_equal(coded[..., 0], (r // 56) * cols + c // 56)


def test_small_windows_tile_too(rng):
    y = rng.random((23, 17), dtype=np.float32)
    model = CentreModel(patch=9, out=4)          # odd margin split: 2 above, 3 below
    np.testing.assert_array_equal(colorize_y(y, model, batch=5)[..., 0], y)
    assert sum(model.calls) == 6 * 5


def test_padding_reflects_and_a_single_pixel_is_repeated():
    y = np.arange(15, dtype=np.float32).reshape(3, 5) / 15
    window = tile_windows(y, 64, 56)[0, 0]
    assert window[4, 4] == y[0, 0]
    assert window[3, 4] == y[1, 0] and window[4, 3] == y[0, 1]   # reflect: d c b | a b c d
    assert set(np.unique(window)) <= set(y.ravel())
    one = tile_windows(np.full((1, 1), 0.3, np.float32), 64, 56)
    assert one.shape == (1, 1, 64, 64) and np.all(one == np.float32(0.3))


def test_batch_size_does_not_change_a_real_model(tiny_model, rng):
    y = rng.random((50, 113), dtype=np.float32)          # 1 x 3 windows
    results = [colorize_y(y, tiny_model, batch=b) for b in (1, 2, 16)]
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=0, atol=1e-6)
    assert np.all(results[0][..., 0] >= U_RANGE[0]) and np.all(results[0][..., 1] <= V_RANGE[1])


def test_output_luminance_is_the_input_y(tiny_model, rng):
    y = rng.random((40, 60), dtype=np.float32)
    for refine in (False, True):
        rgb = colorize_image(y, tiny_model, refine=refine, radius=5)
        assert rgb.shape == (40, 60, 3) and rgb.dtype == np.float32
        assert rgb.min() >= 0 and rgb.max() <= 1
        np.testing.assert_allclose(rgb_to_gray(rgb), y, atol=1e-5)
        assert np.ptp(rgb, axis=-1).max() > 1e-3              # it did add colour


def test_out_of_gamut_chroma_is_desaturated_keeping_y():
    class Saturated(CentreModel):
        def predict(self, y):
            return np.stack([np.full((len(y), 56, 56), U_RANGE[1]),
                             np.full((len(y), 56, 56), V_RANGE[1])], axis=1)

    y = np.linspace(0, 1, 30, dtype=np.float32)[None].repeat(4, axis=0)
    rgb = colorize_image(y, Saturated(), refine=False)
    np.testing.assert_allclose(rgb_to_gray(rgb), y, atol=1e-5)
    assert rgb.min() >= 0 and rgb.max() <= 1
    mid = rgb[0, 10:20]
    assert np.all(mid[:, 0] > mid[:, 1]) and np.all(mid[:, 2] > mid[:, 1])    # magenta stays magenta
    inside = np.array([0.5, 0.01, -0.02])                       # in gamut: left as it is
    np.testing.assert_allclose(yuv_to_rgb_in_gamut(inside), yuv_to_rgb(inside), atol=1e-12)


def test_refinement_changes_only_u_and_v(tiny_model, rng):
    y = rng.random((30, 45), dtype=np.float32)
    raw, refined = colorize_yuv(y, tiny_model, refine=True, radius=3, eps=1e-3)
    np.testing.assert_array_equal(raw[..., 0], y)
    np.testing.assert_array_equal(refined[..., 0], y)
    np.testing.assert_allclose(refined[..., 1:], guided_filter(y, raw[..., 1:], 3, 1e-3), atol=1e-6)
    assert np.abs(refined[..., 1:] - raw[..., 1:]).max() > 1e-4
    assert colorize_yuv(y, tiny_model, refine=False).refined is None


def test_colour_input_is_reduced_to_its_y(rng):
    rgb = rng.random((10, 12, 3), dtype=np.float32)
    raw, _ = colorize_yuv(rgb, CentreModel(), refine=False)
    np.testing.assert_allclose(raw[..., 0], rgb_to_yuv(rgb)[..., 0], atol=1e-6)


def test_equalize_is_monotone_and_spreads_the_histogram(rng):
    y = (0.4 + 0.1 * rng.random((30, 40))).astype(np.float32)
    eq = equalize(y)
    order = np.argsort(y, axis=None)
    assert np.all(np.diff(eq.ravel()[order]) >= 0)
    assert eq.min() == 0 and eq.max() == 1 and eq.std() > 3 * y.std()
    # Equalised, the histogram is nearly flat: each quarter holds about a quarter of the pixels.
    np.testing.assert_allclose(np.histogram(eq, bins=4, range=(0, 1))[0] / eq.size, 0.25, atol=0.01)
    flat = np.full((3, 3), 0.7, np.float32)
    np.testing.assert_array_equal(equalize(flat), flat)


def test_equalize_feeds_the_network_but_keeps_the_output_y(rng):
    y = (0.4 + 0.1 * rng.random((20, 20))).astype(np.float32)
    model = CentreModel()
    raw, _ = colorize_yuv(y, model, refine=False, equalize=True)
    np.testing.assert_array_equal(raw[..., 0], y)
    np.testing.assert_array_equal(raw[..., 1], equalize(y))      # U = the centre the network saw
    assert model.seen[0].max() == 1


@pytest.mark.parametrize("bad, error", [
    (np.zeros((0, 5), np.float32), ValueError),
    (np.zeros((4, 5, 2), np.float32), ValueError),
    (np.full((4, 5), 1.5, np.float32), ValueError),
    (np.full((4, 5), np.nan, np.float32), ValueError),
    (np.zeros((4, 5), np.uint8), TypeError),
])
def test_bad_images_are_refused(bad, error):
    with pytest.raises(error, match="y must"):
        colorize_image(bad, CentreModel())


@pytest.mark.parametrize("options, match", [
    ({"batch": 0}, "batch"), ({"radius": -1}, "radius"), ({"eps": 0.0}, "eps"), ({"radius": 2.5}, "radius"),
])
def test_bad_options_are_refused_before_the_network_runs(options, match):
    model = CentreModel()
    with pytest.raises(ValueError, match=match):
        colorize_image(np.zeros((4, 5), np.float32), model, **options)
    assert model.calls == []


def test_a_model_with_a_working_scale_sees_the_shrunk_image():
    yy, xx = np.mgrid[0:200, 0:300].astype(np.float32)
    y = (0.2 + 0.3 * yy / 200 + 0.4 * xx / 300).astype(np.float32)       # smooth: shrinking loses nothing
    model = CentreModel()
    model.long_side = 100
    uv = predict_chroma(y, model)
    assert uv.shape == (200, 300, 2) and uv.dtype == np.float32
    assert sum(model.calls) == 2 * 2                     # the windows of 67 x 100 pixels, not 4 x 6 of 200 x 300
    assert {w.shape for w in model.seen} == {(len(model.seen[0]), 64, 64)}
    np.testing.assert_allclose(uv[..., 0], y, atol=0.01)    # U = Y: back at full size, where it belongs
    np.testing.assert_allclose(uv[..., 1], 1 - y, atol=0.01)
    model.long_side = 300                                 # the image fits: predicted as it is
    np.testing.assert_array_equal(predict_chroma(y, model), colorize_y(y, model))
    del model.long_side                                   # a model without the attribute: as it is
    np.testing.assert_array_equal(predict_chroma(y, model), colorize_y(y, model))


def test_colorize_yuv_refines_at_full_size_after_predicting_small(rng):
    y = rng.random((90, 150), dtype=np.float32)
    model = ColorizationModel(architecture((4, 4, 4, 2)), rng=0, long_side=75)
    result = colorize_yuv(y, model, radius=4)
    assert result.raw.shape == result.refined.shape == (90, 150, 3)
    np.testing.assert_array_equal(result.raw[..., 0], y)
    np.testing.assert_array_equal(result.raw[..., 1:], predict_chroma(y, model))
    np.testing.assert_allclose(result.refined[..., 1:], guided_filter(y, result.raw[..., 1:], 4, 1e-4), atol=1e-6)
    model = ColorizationModel(architecture((4, 4, 4, 2)), rng=0)             # the same weights, no working scale
    assert np.abs(colorize_yuv(y, model, refine=False).raw[..., 1:] - result.raw[..., 1:]).max() > 1e-4


@pytest.mark.parametrize("rows,radius", [(7, 3), (1, 2), (5, 0), (9, 4)])
def test_the_pipelines_strips_are_filtered_like_the_whole_image(monkeypatch, tiny_model, rows, radius):
    """Issue 12, item 2: `chroma_strips` filters each strip with 2r rows of context; its strips give the
    guided filter of the whole image's network chroma (the strips hold at least 4r rows, see `strips`)."""
    import colorize.pipeline as pipeline
    y = np.random.default_rng(5).random((37, 23)).astype(np.float32)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 23 * rows)
    parts = list(pipeline.chroma_strips(y, tiny_model, radius=radius, eps=1e-3))
    assert len(parts) == math.ceil(37 / max(rows, 4 * radius)) > 1
    raw, refined = (np.concatenate([getattr(part, name) for part in parts]) for name in ("raw", "refined"))
    whole = guided_filter(y, raw, radius, 1e-3)
    assert refined.dtype == whole.dtype and refined.shape == whole.shape == (37, 23, 2)
    np.testing.assert_allclose(refined, whole, atol=1e-6)


def test_colorize_image_converts_to_rgb_in_strips_with_the_same_result(monkeypatch):
    """Issue 12, item 2: the pixel-wise YUV -> RGB conversion in strips changes nothing."""
    import colorize.pipeline as pipeline
    from colorize.model import ColorizationModel, architecture
    model = ColorizationModel(architecture((2, 2, 2, 2)), rng=3)
    y = np.random.default_rng(6).random((29, 11)).astype(np.float32)
    whole = pipeline.yuv_to_rgb_in_gamut(pipeline.colorize_yuv(y, model, radius=3).refined)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 40)              # strips of 3 rows
    strips = pipeline.colorize_image(y, model, radius=3)
    assert strips.dtype == whole.dtype
    np.testing.assert_allclose(strips, whole, atol=1e-6)        # the guided filter's strips: float rounding


class TestStrips:
    """Issue 12, item 2: the networks, the guided filter and the RGB conversion go in strips of rows,
    with the same result as the whole image, and memory bounded by a strip, not the image."""

    def test_window_rows_in_small_steps_equal_all_windows_at_once(self, tiny_model):
        y = np.random.default_rng(11).random((131, 75)).astype(np.float32)
        windows = tile_windows(y, 64, 56)                           # the independent reference: every window at once
        rows, cols = windows.shape[:2]
        chroma = tiny_model.predict(windows.reshape(-1, 64, 64)).reshape(rows, cols, 2, 56, 56)
        whole = chroma.transpose(0, 3, 1, 4, 2).reshape(rows * 56, cols * 56, 2)[:131, :75]
        from colorize.infer import WindowRows
        at_once = WindowRows(y, tiny_model, batch=4).rows(0, 131)
        np.testing.assert_allclose(at_once, whole, atol=1e-6)          # other batches: BLAS rounding
        source = WindowRows(y, tiny_model, batch=4)
        for top in range(0, 131, 13):                                  # the same batches: bit for bit
            first = max(0, top - 9)
            np.testing.assert_array_equal(source.rows(first, min(131, top + 13 + 9)), at_once[first:top + 13 + 9])
        with pytest.raises(ValueError, match="move down"):
            source.rows(0, 5)

    @pytest.mark.parametrize("long_side", [None, 40])
    @pytest.mark.parametrize("refine", [False, True])
    def test_small_strips_give_the_whole_image_result(self, monkeypatch, tiny_model, long_side, refine):
        import colorize.pipeline as pipeline
        model = ColorizationModel(tiny_model.specs, rng=1, long_side=long_side)
        y = np.random.default_rng(12).random((97, 61)).astype(np.float32)
        monkeypatch.setattr(pipeline, "STRIP_PIXELS", 10 ** 9)      # one strip: the whole image
        whole = colorize_yuv(y, model, radius=3, refine=refine, equalize=True)
        monkeypatch.setattr(pipeline, "STRIP_PIXELS", 61 * 7)       # strips of 7 rows (at least 2r = 6)
        strips = colorize_yuv(y, model, radius=3, refine=refine, equalize=True)
        if long_side is None:                                       # the networks' rows: bit for bit
            np.testing.assert_array_equal(strips.raw, whole.raw)
        else:                                                       # enlarged row by row: float32 box positions
            np.testing.assert_allclose(strips.raw, whole.raw, atol=1e-5)
        if refine:
            np.testing.assert_allclose(strips.refined, whole.refined, atol=2e-5)

    def test_colorize_file_memory_is_a_few_bytes_per_pixel(self, tmp_path, monkeypatch, model_file):
        """tracemalloc's peak (numpy reports its arrays to it) while colorizing photos of 300 x 400 and
        300 x 800 pixels with strips of 20 rows grows by a few bytes per added pixel (the luminance, the
        output's pixels, the decoder's copy), not by float RGB arrays of the image; the output is
        `colorize_image`'s, quantised."""
        import tracemalloc
        import imageio.v3 as iio
        import colorize.images, colorize.infer, colorize.pngfile, colorize.pipeline
        from colorize.apply import colorize_file
        from colorize.images import read_image
        from colorize.model import load_model
        width, g, model = 300, np.random.default_rng(13), load_model(model_file)
        monkeypatch.setattr(colorize.pipeline, "STRIP_PIXELS", 20 * width)
        for module, name in ((colorize.images, "STRIP_ROWS"), (colorize.infer, "PASS_ROWS"),
                             (colorize.pngfile, "STRIP_ROWS")):
            monkeypatch.setattr(module, name, 20)
        peaks = {}
        for height in (400, 400, 800):                              # the first run compiles and fills caches
            iio.imwrite(tmp_path / f"p{height}.png", (g.random((height, width, 3)) * 255).astype(np.uint8))
            tracemalloc.start()
            try:
                colorize_file(tmp_path / f"p{height}.png", tmp_path / f"out{height}.png", model, radius=5,
                              overwrite=True)
                peaks[height] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        per_pixel = (peaks[800] - peaks[400]) / (400 * width)
        assert per_pixel < 12, f"{per_pixel:.1f} bytes per added pixel"
        expected = colorize_image(read_image(tmp_path / "p800.png")[0], model, radius=5)
        np.testing.assert_array_equal(read_image(tmp_path / "out800.png")[0], np.round(expected * 255) / np.float32(255))


def test_the_gamut_kernel_matches_the_formula_in_numpy(rng):
    """kernels.yuv_to_rgb_in_gamut against its docstring's formula written as array expressions,
    on pixels far outside the cube (and inside it), in float64 and float32."""
    yuv = np.stack([rng.uniform(-0.1, 1.1, 5000), rng.uniform(-0.7, 0.7, 5000), rng.uniform(-0.9, 0.9, 5000)], -1)
    rgb = yuv @ YUV_TO_RGB.T
    y = np.clip(yuv[:, :1], 0, 1)
    d = rgb - y
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(d > 0, (1 - y) / d, np.where(d < 0, -y / d, np.inf))
    expected = np.clip(y + np.minimum(room.min(axis=1, keepdims=True), 1) * d, 0, 1)
    np.testing.assert_allclose(yuv_to_rgb_in_gamut(yuv), expected, atol=1e-12)
    got32 = yuv_to_rgb_in_gamut(yuv.astype(np.float32).reshape(50, 100, 3))
    assert got32.dtype == np.float32 and got32.shape == (50, 100, 3)
    np.testing.assert_allclose(got32.reshape(-1, 3), expected, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        yuv_to_rgb_in_gamut(np.zeros((4, 2)))


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_the_gamut_conversion_takes_every_float_dtype(rng, dtype):
    """The kernel is compiled for float32 and float64; float16 goes through float32 and longdouble
    through float64, and comes back in its own dtype (as `yuv_to_rgb` does)."""
    yuv = np.stack([rng.uniform(0, 1, 300), rng.uniform(-0.6, 0.6, 300), rng.uniform(-0.8, 0.8, 300)], -1)
    got = yuv_to_rgb_in_gamut(yuv.astype(dtype).reshape(10, 30, 3))
    assert got.dtype == dtype and got.shape == (10, 30, 3)
    expected = yuv_to_rgb_in_gamut(yuv.astype(dtype).astype(np.float64)).reshape(10, 30, 3)
    np.testing.assert_allclose(got.astype(np.float64), expected, atol=2e-3 if dtype == np.float16 else 1e-12)
