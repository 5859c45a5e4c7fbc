"""Deep patch-wise colorization of grayscale images, built on the vcnn engine.

Everything the ``colorize`` command does is one call here::

    import colorize
    model = colorize.load_model("my_model.npz")
    rgb, info = colorize.read_image("old.jpg")
    colorize.write_png("old_colorized.png", colorize.colorize_image(rgb, model))
"""
import os as _os
import signal as _signal
import sys as _sys

_ctrl_c = []    # SIGINTs received while starting
_replaced = None    # (excepthook, SIGINT handler) that start-up replaced, until `_start_up_over`


def _on_ctrl_c(signum, frame):
    """Python's own SIGINT handler (raise KeyboardInterrupt), remembering that it ran: a C extension being
    imported at that moment turns the KeyboardInterrupt into an ImportError (numpy does)."""
    _ctrl_c.append(signum)
    raise KeyboardInterrupt


def _interrupted_while_starting(kind, value, traceback):
    """Ctrl-C before the command's own handling runs (while Python imports it): one line, no traceback.

    (Its worker processes start with SIGINT held: see `colorize.processes.run_in_processes`.)
    """
    if issubclass(kind, KeyboardInterrupt) or _ctrl_c:
        _sys.stderr.write("stopped on Ctrl-C: while starting, before any file was written\n")
    else:
        _replaced[0](kind, value, traceback)


def _start_up_over() -> None:
    """The command's own handling runs from here on (`colorize.cli`): the excepthook and SIGINT handler
    of before start-up come back, so that a later error is shown as itself, never as a Ctrl-C while
    starting. A Ctrl-C that start-up swallowed stops the command now."""
    global _replaced
    if _replaced is not None:
        _sys.excepthook, handler = _replaced
        _signal.signal(_signal.SIGINT, handler)
        _replaced = None
        if _ctrl_c:
            raise KeyboardInterrupt


# For the command alone (a library user keeps Python's own display): run as ``colorize``, or as
# ``python -m colorize`` (argv[0] is "-m" while the package is imported); an ignored SIGINT
# (``nohup``, a shell's background job) stays ignored.
if ((_os.path.basename(_sys.argv[0]) == "colorize" or _sys.argv[0] == "-m")
        and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
    _replaced = (_sys.excepthook, _signal.getsignal(_signal.SIGINT))
    _sys.excepthook = _interrupted_while_starting
    _signal.signal(_signal.SIGINT, _on_ctrl_c)

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
