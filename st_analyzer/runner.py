"""Runs the backend CLI in a child process and turns its JSON lines into Processing feedback.

The child runs in its own process group (session) with a pipe on its stdin that only this
process holds, and ``ST_ANALYZER_PARENT_PID`` set: when QGIS or ``qgis_process`` dies, the pipe
closes and the child ends itself (on Linux the kernel also signals it). Cancel: the child's
group gets SIGTERM (it deletes its temporary outputs), then SIGKILL after ``KILL_AFTER_S``.
The child announces every temporary output path it creates; after a failed, cancelled or
killed run exactly those paths are removed — never files found by a name pattern.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PYTHON = "ST_ANALYZER_PYTHON"
ENV_PARENT_PID = "ST_ANALYZER_PARENT_PID"  # backend.lifeline.PARENT_PID_VARIABLE
ENV_OWNED_FOLDERS = "ST_ANALYZER_OWNED_FOLDERS"  # backend.lifeline.OWNED_FOLDERS_VARIABLE
INPUT_COPY_PREFIX = "st_analyzer_input_"  # folders of GeoPackage copies the plugin makes for the backend
KILL_AFTER_S = 1.5
POLL_S = 0.1
SETUP_ALGORITHM = "Set up backend"  # the toolbox name of stanalyzer:setupbackend
INSTALL_HINT = (
    f"Run 'Space-time analyzer → Set-up → {SETUP_ALGORITHM}' in the Processing toolbox (or `qgis_process run "
    "stanalyzer:setupbackend`) once; it makes the backend's environment. Or choose an interpreter that has the "
    "backend in Settings → Options → Processing → Providers → Space-time analyzer, or with the environment "
    f"variable {ENV_PYTHON} (README, manual set-up)."
)


class BackendError(RuntimeError):
    """The backend could not run or reported an error; the message is for the analyst."""


class BackendCancelled(BackendError):
    """The user cancelled the run."""


def default_python() -> str:
    """The Python interpreter that QGIS itself runs.

    Inside QGIS ``sys.executable`` is QGIS's binary or whatever ``python3`` is first on PATH,
    so the interpreter is looked up in the running Python's own prefix first.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    folders = [Path(p) for p in (sysconfig.get_config_var("BINDIR"), Path(sys.exec_prefix) / "bin") if p]
    candidates = [folder / name for folder in folders for name in (f"python{version}", "python3")]
    candidates += [Path(sys.exec_prefix) / "python.exe", Path(sys.exec_prefix) / "python3.exe"]
    executable = Path(sys.executable)
    if executable.name.lower().startswith("python"):
        candidates.append(executable)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    return shutil.which("python3") or "python3"


def resolve_python(configured: str | None = None) -> str:
    """Interpreter to run: ``ST_ANALYZER_PYTHON``, else the plugin setting, else QGIS's Python."""
    return os.environ.get(ENV_PYTHON) or (configured or "").strip() or default_python()


def child_environment(python: str) -> dict[str, str]:
    """Environment for the child: QGIS's own, minus QGIS's Python paths for a foreign interpreter."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    if os.path.realpath(python) == os.path.realpath(default_python()):
        return env
    env.pop("PYTHONHOME", None)
    qgis_prefix = os.path.realpath(sys.prefix)
    kept = [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and not os.path.realpath(p).startswith(qgis_prefix)
    ]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        env.pop("PYTHONPATH", None)
    return env


@dataclass
class BackendResult:
    """The backend's ``result`` line: output paths by name and a summary."""

    outputs: dict[str, str]
    summary: dict[str, Any] = field(default_factory=dict)


_probe_cache: dict[str, dict[str, Any]] = {}


def check_version(python: str, backend_version: str) -> None:
    """The backend must be the version that came with this plugin (models and requests change with it)."""
    from st_analyzer.__about__ import __version__ as plugin_version

    if backend_version != plugin_version:
        raise BackendError(
            f"The backend in {python} is version {backend_version or 'unknown'}, this plugin is "
            f"{plugin_version}. Run '{SETUP_ALGORITHM}' again to upgrade it."
        )


def forget_probe(python: str) -> None:
    """Drop the cached probe of ``python`` (after its environment was made or changed)."""
    _probe_cache.pop(python, None)


def probe_backend(python: str) -> dict[str, Any]:
    """``python -m backend info`` (cached): raises :class:`BackendError` saying how to fix a failure."""
    if python in _probe_cache:
        return _probe_cache[python]
    try:
        completed = subprocess.run(
            [python, "-m", "backend", "info"],
            capture_output=True,
            text=True,
            timeout=120,
            env=child_environment(python),
        )
    except FileNotFoundError as exc:
        raise BackendError(f"The backend interpreter {python!r} was not found. {INSTALL_HINT}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"The backend interpreter {python!r} could not be started: {exc}. {INSTALL_HINT}") from exc
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"exit code {completed.returncode}"
        raise BackendError(f"The st_analyzer backend is not usable with {python} ({reason}). {INSTALL_HINT}")
    for line in completed.stdout.splitlines():
        message = json.loads(line)
        if message.get("type") == "result":
            summary = message["summary"]
            check_version(python, str(summary.get("version", "")))
            _probe_cache[python] = summary
            return summary
    raise BackendError(f"The backend in {python} gave no answer to 'info'. {INSTALL_HINT}")


def input_copy_folders(request: Any) -> list[str]:
    """The input-copy folders (``st_analyzer_input_*``) that a request's paths lie in."""
    if isinstance(request, dict):
        return [f for value in request.values() for f in input_copy_folders(value)]
    if isinstance(request, list):
        return [f for value in request for f in input_copy_folders(value)]
    if isinstance(request, str):
        folder = os.path.dirname(request)
        if os.path.basename(folder).startswith(INPUT_COPY_PREFIX) and os.path.isdir(folder):
            return [folder]
    return []


def remove_temporaries(paths: list[Path]) -> None:
    """Delete the temporary files and folders a run announced (those it did not move into place)."""
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_explanation(code: int, last_stderr_line: str = "") -> str:
    """What an exit code without an error message means for the analyst."""
    if code >= 0:
        said = f": {last_stderr_line}" if last_stderr_line else " without saying why"
        return f"The backend stopped with exit code {code}{said}. The log has the details."
    name = _signal_name(-code)
    if -code == getattr(signal, "SIGKILL", 9):
        return (
            "The backend was killed (SIGKILL). Most often the system ended it because memory ran out: "
            "use a smaller extent, a coarser grid, fewer time steps or a smaller model, or close other "
            "programs."
        )
    return f"The backend was ended by {name} (another program or the system stopped it). No output was written."


def _process_group_options() -> dict[str, Any]:
    """The child gets its own process group, so a cancel reaches its workers and a Ctrl+C in a
    terminal reaches only qgis_process (which then cancels us)."""
    if os.name == "nt":
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    return {"start_new_session": True}


def _pump(stream, lines: queue.Queue[tuple[str, str | None]], name: str) -> None:
    """Queue the lines of one of the child's pipes, then ``None``; the pipe is closed at its end."""
    try:
        for line in stream:
            lines.put((name, line))
    except (OSError, ValueError):  # the pipe broke with the child
        pass
    finally:
        stream.close()
        lines.put((name, None))


class BackendRunner:
    """Runs one backend command; ``feedback`` is a ``QgsProcessingFeedback`` (or ``None``).

    ``idle`` is called between polls (every ``POLL_S``): the plugin lets the Qt event loop run there when the
    run blocks QGIS's main thread, so that a cancel (e.g. Ctrl+C in ``qgis_process``) reaches the feedback."""

    def __init__(self, python: str, feedback=None, idle=None) -> None:
        self.python = python
        self.feedback = feedback
        self.idle = idle

    def _cancelled(self) -> bool:
        return bool(self.feedback is not None and self.feedback.isCanceled())

    def _handle(self, message: dict[str, Any]) -> None:
        if self.feedback is None:
            return
        kind = message.get("type")
        if kind == "progress":
            self.feedback.setProgress(float(message.get("percent", 0.0)))
            if message.get("message"):
                self.feedback.setProgressText(str(message["message"]))
        elif kind == "log":
            level, text = message.get("level", "info"), str(message.get("message", ""))
            if level == "warning":
                self.feedback.pushWarning(text)
            elif level == "debug":
                self.feedback.pushDebugInfo(text)
            else:
                self.feedback.pushInfo(text)

    @staticmethod
    def _signal_group(process: subprocess.Popen, number: int) -> None:
        try:
            if os.name == "nt":
                process.kill() if number == getattr(signal, "SIGKILL", None) else process.terminate()
            else:
                os.killpg(process.pid, number)
        except (ProcessLookupError, PermissionError):
            pass

    def _stop(self, process: subprocess.Popen) -> None:
        """SIGTERM to the child's group (it cleans up and leaves), SIGKILL if it is still there."""
        self._signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            self._signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            process.wait()

    def run(self, command: str, request: dict[str, Any]) -> BackendResult:
        """Run ``python -m backend <command>`` on ``request``; raise :class:`BackendError` on failure."""
        probe_backend(self.python)
        with tempfile.TemporaryDirectory(prefix="st_analyzer_") as folder:
            request_path = Path(folder) / "request.json"
            request_path.write_text(json.dumps(request), encoding="utf-8")
            try:
                process = subprocess.Popen(
                    [self.python, "-m", "backend", command, str(request_path)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    env={
                        **child_environment(self.python),
                        ENV_PARENT_PID: str(os.getpid()),
                        ENV_OWNED_FOLDERS: os.pathsep.join([folder, *input_copy_folders(request)]),
                    },
                    **_process_group_options(),
                )
            except OSError as exc:
                raise BackendError(f"Cannot start {self.python}: {exc}. {INSTALL_HINT}") from exc
            temporaries: list[Path] = []
            try:
                return self._follow(process, temporaries)
            finally:
                if process.poll() is None:
                    self._stop(process)
                process.stdin.close()
                remove_temporaries(temporaries)

    def _follow(self, process: subprocess.Popen, temporaries: list[Path]) -> BackendResult:
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            threading.Thread(target=_pump, args=(stream, lines, name), daemon=True).start()
        result: BackendResult | None = None
        error: str | None = None
        stderr_tail: list[str] = []
        open_streams = 2
        while open_streams:
            if self._cancelled():
                self._stop(process)
                raise BackendCancelled("The run was cancelled; no output was written.")
            try:
                name, line = lines.get(timeout=POLL_S)
            except queue.Empty:
                if self.idle is not None:
                    self.idle()
                continue
            if line is None:
                open_streams -= 1
                continue
            if name == "stderr":
                stderr_tail = (stderr_tail + [line.rstrip()])[-30:]
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                if self.feedback is not None:
                    self.feedback.pushDebugInfo(line.rstrip())
                continue
            if message.get("type") == "temporary":
                temporaries += [Path(p) for p in [message.get("path"), *message.get("sidecars", [])] if p]
            elif message.get("type") == "result":
                result = BackendResult(message.get("outputs", {}), message.get("summary", {}))
            elif message.get("type") == "error":
                error = str(message.get("message", "unknown error"))
            else:
                self._handle(message)
        code = process.wait()
        if error is not None or code != 0 or result is None:
            if error is None and self.feedback is not None and stderr_tail:
                self.feedback.pushDebugInfo("\n".join(stderr_tail[-10:]))
            raise BackendError(error or exit_explanation(code, stderr_tail[-1] if stderr_tail else ""))
        return result
