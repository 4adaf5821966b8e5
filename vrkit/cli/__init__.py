"""The ``vrkit`` command. Each subcommand lives in its own module of this package.

A command module defines ``register(subparsers)``, which adds its parser and sets
``func=handler``; a handler takes the parsed arguments and returns an exit code. Modules keep
their top-level imports light (no OpenGL, no cv2) so that ``vrkit --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import typing

from vrkit import __version__
from vrkit.core import interrupts
from vrkit.core.errors import VrkitError, one_line

# Order here is the order in `vrkit --help`.
COMMAND_MODULES = [
    "run",
    "doctor",
    "info",
    "profile",
    "data",
    "fov",
    "calibrate",
    "track",
    "latency",
]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        """Print ``PROG: error: MESSAGE`` and how to see the usage, then exit with 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand."""
    parser = _Parser(prog="vrkit", description="Toolkit for people who build VR headsets.")
    parser.add_argument("--version", action="version", version=f"vrkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"vrkit.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vrkit`` console script.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code: 0 on success, 1 on a reported error, 2 on a bad command line,
        130 on Ctrl-C, 143 on SIGTERM (:mod:`vrkit.core.interrupts`: repeated signals end as
        cleanly as one), 141 when the reader of stdout went away (quietly, as ``head`` expects).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="vrkit: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    if not args.verbose:
        _quiet_native_libraries()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # The handlers stay in place while the error line is printed (a second Ctrl-C must not
    # cut it short); for the process itself, until it exits.
    with interrupts.handlers(linger=argv is None):
        try:
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
            return code
        except BrokenPipeError:  # the reader went away (`vrkit fov --json | head -1`): quietly
            _silence_stdout()
            return 141  # 128 + SIGPIPE, what a killed writer reports
        except VrkitError as exc:
            if args.debug:
                raise
            print(one_line(f"vrkit {args.command}: error: {exc}"), file=sys.stderr)
            return 1
        except KeyboardInterrupt as exc:
            print(f"vrkit {args.command}: interrupted", file=sys.stderr)
            return interrupts.exit_code(exc)
        except Exception as exc:  # a bug, not bad input: one line, and how to see more
            if args.debug:
                raise
            if isinstance(exc, OSError) and exc.filename:  # a file the command did not check
                print(one_line(f"vrkit {args.command}: error: {exc.filename}: {exc.strerror}"),
                      file=sys.stderr)  # fmt: skip
                return 1
            print(
                one_line(
                    f"vrkit {args.command}: internal error: {type(exc).__name__}: {exc} "
                    "(run with --debug for the traceback and please report it)"
                ),
                file=sys.stderr,
            )
            return 1


def _quiet_native_libraries() -> None:
    """Keep OpenCV's and FFmpeg's own warnings off stderr, ahead of vrkit's one-line errors.

    OpenCV prints ``[ WARN:0@...] cap_v4l ...`` for a missing camera and its FFmpeg backend
    ``moov atom not found`` for a broken video; vrkit reports both itself. The variables are read
    when cv2 opens its first capture, so setting them here (before any command imports cv2)
    is enough; a user's own setting wins, and ``--verbose`` leaves them alone.
    """
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and hasattr(cv2, "utils") and os.environ["OPENCV_LOG_LEVEL"] == "ERROR":
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests, embedding)
        pass


if __name__ == "__main__":
    sys.exit(main())
