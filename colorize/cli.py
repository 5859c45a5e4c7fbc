"""The ``colorize`` command line: parses options and calls the library.

Every command is one call of a library function (`colorize_files`,
`evaluate`); the commands (``cli_photos``: apply, evaluate, tone, info, plot;
``cli_train``: patches, train; ``cli_common``: what they share) only turn
options into arguments and results into text. This module holds the group.
Failures follow one rule, implemented once in `_Group`: a bad option
value, a missing or unreadable file or a bad model prints one line
``error: ...`` on stderr and exits with 1 (2 for a usage error), never a
traceback. With several inputs, a bad one is reported and skipped, and the
exit code is 1 at the end.

Under ``mpiexec -n K`` every rank runs the same command (`train` and `apply`
spread their work, see `colorize.parallel`). A failure every rank meets at
the same point (usage errors, Ctrl-C, divergence, an agreed exit code) is
shown by rank 0 alone and every rank exits with it. Any other failure may be
one rank's alone while the others wait for it in a collective: that rank
shows its error and aborts the whole job (``MPI_Abort``), as ``python -m
mpi4py`` does, so that the job ends instead of hanging.
"""
from __future__ import annotations

import time
import traceback
from contextlib import contextmanager
from importlib import metadata

import click

from colorize import _start_up_over
from colorize.batch import FILE_ERRORS
from colorize.cli_common import CliError, communicator
from colorize.cli_photos import apply, evaluate, info, plot, tone
from colorize.cli_train import patches, train
from colorize.parallel import ParallelError, world


#: click >= 8.2 shows a group's help through this UsageError; it must stay as it is.
_HELP_ERRORS = tuple(filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)]))


@contextmanager
def _one_line_errors():
    """Usage errors (exit 2) and file, image, model and value errors (exit 1) as one line."""
    try:
        yield
    except _HELP_ERRORS:
        raise
    except click.UsageError as err:
        hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
        raise CliError(err.format_message() + hint, exit_code=2, every_rank=True) from None
    except BrokenPipeError:
        raise                                   # click's own handling: exit quietly
    except (*FILE_ERRORS, ParallelError) as err:
        raise CliError(str(err) or "out of memory") from None
    except KeyboardInterrupt:                   # Ctrl-C outside training's own handler (start-up, loading)
        raise CliError("no file is left half-written", exit_code=130, kind="stopped on Ctrl-C") from None


@contextmanager
def _one_rank_ends_the_job():
    """Under MPI, a failure not known to be every rank's shows itself and aborts the job."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as err:
        comm = communicator()
        if comm.size == 1 or getattr(err, "every_rank", False):
            raise
        if comm.rank:
            time.sleep(1)       # if rank 0 fails too, its abort ends this rank first: one message, not K
        if isinstance(err, click.ClickException):
            err.show()
        else:
            traceback.print_exc()
        comm.abort(getattr(err, "exit_code", 1))


class _Group(click.Group):
    """A click group whose parsing and commands fail in one line (see `_one_line_errors`),
    and whose commands, under MPI, never leave a job hanging (see `_one_rank_ends_the_job`)."""

    def make_context(self, *args, **kwargs):
        with _one_line_errors():
            _start_up_over()                        # from here, Ctrl-C and errors are handled here
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _one_rank_ends_the_job(), _one_line_errors():
            world()                                 # under mpiexec, start MPI (or say why it cannot)
            return super().invoke(ctx)


def _version() -> str:
    try:
        return metadata.version("vcnn-colorize")
    except metadata.PackageNotFoundError:       # run from a source tree that was never installed
        return "unknown (not installed)"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="colorize", message="%(prog)s %(version)s")
def main():
    """Deep patch-wise colorization of grayscale photos (SIGGRAPH Asia 2016).

    \b
    Examples:
      colorize apply old.jpg scans/ -o colorized/
      colorize evaluate photos/ --json scores.json --compare strips/
      colorize info default

    \b
    Shell completion (bash; zsh and fish likewise, with zsh_source, fish_source):
      eval "$(_COLORIZE_COMPLETE=bash_source colorize)"
    """


for command in (apply, evaluate, patches, tone, train, info, plot):
    main.add_command(command)
