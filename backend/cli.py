"""Command-line interface: ``python -m backend <command> <request.json>``.

Prints JSON lines on stdout: ``progress``, ``log``, ``temporary`` (a temporary output path, so the
caller can remove exactly this run's files if it has to kill it), then one ``result`` or ``error``.
Exit codes: 0 success, 1 bad input, 2 usage, 3 internal error, 130 cancelled, 131 parent gone.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from backend import __version__, lifeline
from backend.errors import CancelledError, UserInputError
from backend.progress import JsonLinesReporter

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_CANCELLED, EXIT_PARENT_GONE = 0, 1, 2, 3, 130, 131
CANCELLED = "The run was cancelled; no output was written."


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

    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": importlib.util.find_spec("torch") is not None,
    }


def _read_request(name: str) -> dict:
    """The request object from a JSON file (or ``-``: standard input); unreadable ones are input errors."""
    where = "standard input" if name == "-" else f"the request file {name}"
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        request = json.loads(raw.decode("utf-8"))
    except IsADirectoryError as exc:
        raise UserInputError(f"{name} is a folder; give a JSON request file.") from exc
    except OSError as exc:
        raise UserInputError(f"Cannot read {where}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{where.capitalize()} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{where.capitalize()} is not valid JSON: {exc}.") from exc
    if not isinstance(request, dict):
        raise UserInputError("The request must be a JSON object.")
    return request


def main(argv: list[str] | None = None) -> int:
    reporter = JsonLinesReporter()
    lifeline.install(EXIT_CANCELLED, EXIT_PARENT_GONE, lambda: reporter.error(CANCELLED, kind="cancelled"))
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.command == "info":
        reporter.result({}, _info())
        return EXIT_OK
    from backend.data.atomic import set_temporary_listener

    set_temporary_listener(reporter.temporary)
    try:
        request = _read_request(args.request)
        from backend.commands import run_command

        result = run_command(args.command, request, reporter)
    except (UserInputError, FileNotFoundError) as exc:
        reporter.error(str(exc), kind="input")
        return EXIT_INPUT
    except (CancelledError, KeyboardInterrupt):
        reporter.error(CANCELLED, kind="cancelled")
        return EXIT_CANCELLED
    except MemoryError:
        reporter.error("Out of memory. Use a smaller extent or fewer time steps.", kind="internal")
        return EXIT_INTERNAL
    except Exception as exc:  # report anything unexpected as one JSON line, with the trace as log
        reporter.log(traceback.format_exc(), level="debug")
        reporter.error(f"Internal error ({type(exc).__name__}): {exc}. Please report it with the log.", kind="internal")
        return EXIT_INTERNAL
    reporter.result(result.outputs, result.summary)
    return EXIT_OK
