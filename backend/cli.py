"""Command-line interface: ``python -m backend <command> <request.json>``.

Prints JSON lines on stdout: ``progress``, ``log``, then one ``result`` or ``error``.
Exit codes: 0 success, 1 bad input, 2 usage, 3 internal error, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from backend import __version__
from backend.data.atomic import discard_all_pending
from backend.errors import CancelledError, UserInputError
from backend.progress import JsonLinesReporter

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_CANCELLED = 0, 1, 2, 3, 130


def _exit_cancelled(signum, frame):  # noqa: ARG001 (signal handler signature)
    """SIGTERM from the plugin: drop temporary outputs and leave at once (GDAL calls may be mid-way)."""
    discard_all_pending()
    JsonLinesReporter().error("The run was cancelled; no output was written.", kind="cancelled")
    os._exit(EXIT_CANCELLED)


def _parser() -> argparse.ArgumentParser:
    from backend.commands import COMMANDS

    parser = argparse.ArgumentParser(prog="python -m backend", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"st_analyzer backend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print the backend version and optional components as JSON")
    for name, spec in sorted(COMMANDS.items()):
        cmd = sub.add_parser(name, help=spec.title)
        cmd.add_argument("request", help="JSON request file, or - for standard input")
    return parser


def _info() -> dict:
    import importlib.util

    return {"version": __version__, "python": sys.version.split()[0], "executable": sys.executable,
            "torch": importlib.util.find_spec("torch") is not None}


def main(argv: list[str] | None = None) -> int:
    reporter = JsonLinesReporter()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.command == "info":
        reporter.result({}, _info())
        return EXIT_OK
    signal.signal(signal.SIGTERM, _exit_cancelled)
    try:
        text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text(encoding="utf-8")
        request = json.loads(text)
        if not isinstance(request, dict):
            raise UserInputError("The request must be a JSON object.")
        from backend.commands import run_command

        result = run_command(args.command, request, reporter)
    except (UserInputError, FileNotFoundError, json.JSONDecodeError) as exc:
        reporter.error(str(exc), kind="input")
        return EXIT_INPUT
    except (CancelledError, KeyboardInterrupt):
        reporter.error("The run was cancelled; no output was written.", kind="cancelled")
        return EXIT_CANCELLED
    except MemoryError:
        reporter.error("Out of memory. Use a smaller extent or fewer time steps.", kind="internal")
        return EXIT_INTERNAL
    except Exception as exc:  # report anything unexpected as one JSON line, with the trace as log
        reporter.log(traceback.format_exc(), level="debug")
        reporter.error(f"Internal error ({type(exc).__name__}): {exc}. Please report it with the log.",
                       kind="internal")
        return EXIT_INTERNAL
    reporter.result(result.outputs, result.summary)
    return EXIT_OK
