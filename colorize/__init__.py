"""Deep patch-wise colorization of grayscale images, built on the vcnn engine.

Everything the ``colorize`` command does is one call here::

    import colorize
    model = colorize.load_model("my_model.npz")
    rgb, info = colorize.read_image("old.jpg")
    colorize.write_png("old_colorized.png", colorize.colorize_image(rgb, model))
"""
from colorize.yuv import rgb_to_gray, rgb_to_yuv, yuv_to_rgb
from colorize.guided_filter import guided_filter
from colorize.images import ImageError, read_image, write_png
from colorize.metrics import image_metrics
from colorize.model import ColorizationModel, architecture, load_model
from colorize.options import InferenceOptions
from colorize.infer import colorize_y, predict_chroma, tile_windows
from colorize.equalize import equalize
from colorize.pipeline import colorize_image, colorize_yuv, yuv_to_rgb_in_gamut
from colorize.apply import colorize_file, colorize_files
from colorize.evaluate import evaluate, evaluate_image, format_table, write_results
from colorize.patches import targets, write_shards
from colorize.train import TrainConfig, train

__all__ = [
    "rgb_to_yuv", "yuv_to_rgb", "rgb_to_gray", "guided_filter",
    "read_image", "write_png", "ImageError", "image_metrics",
    "ColorizationModel", "architecture", "load_model",
    "InferenceOptions", "colorize_image", "colorize_yuv", "colorize_y", "equalize", "predict_chroma", "tile_windows",
    "yuv_to_rgb_in_gamut",
    "colorize_file", "colorize_files",
    "evaluate", "evaluate_image", "format_table", "write_results",
    "targets", "write_shards", "TrainConfig", "train",
]
