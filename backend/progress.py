"""Progress reporting shared by all commands: silent, logging, or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO, Any

_log = logging.getLogger("backend")


class Reporter:
    """Receives progress and log messages from a command; the default drops them to ``logging``."""

    def progress(self, percent: float, message: str = "") -> None:
        _log.debug("%5.1f%% %s", percent, message)

    def log(self, message: str, level: str = "info") -> None:
        _log.log(logging.WARNING if level == "warning" else logging.INFO, message)

    def warning(self, message: str) -> None:
        self.log(message, level="warning")

    def scaled(self, start: float, end: float) -> ScaledReporter:
        """A reporter that maps 0–100 % of a sub-task onto ``start``–``end`` % of this one."""
        return ScaledReporter(self, start, end)


class ScaledReporter(Reporter):
    """Maps a sub-task's 0–100 % onto a slice of the parent's range."""

    def __init__(self, parent: Reporter, start: float, end: float) -> None:
        self._parent, self._start, self._end = parent, start, end

    def progress(self, percent: float, message: str = "") -> None:
        self._parent.progress(self._start + (self._end - self._start) * percent / 100.0, message)

    def log(self, message: str, level: str = "info") -> None:
        self._parent.log(message, level)


class JsonLinesReporter(Reporter):
    """Writes one JSON object per line: ``{"type": "progress"|"log"|"result"|"error", ...}``."""

    def __init__(self, stream: IO[str] | None = None, min_step: float = 0.5) -> None:
        self._stream = stream or sys.stdout
        self._min_step = min_step  # percent; smaller progress steps are not printed
        self._last_percent = -100.0
        self._lock = threading.Lock()  # watcher threads may report while the main thread writes

    def _emit(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(json.dumps(payload, default=str) + "\n")
            self._stream.flush()

    def progress(self, percent: float, message: str = "") -> None:
        if abs(percent - self._last_percent) < self._min_step and percent < 100:
            return
        self._last_percent = percent
        self._emit({"type": "progress", "percent": round(float(percent), 2), "message": message})

    def log(self, message: str, level: str = "info") -> None:
        self._emit({"type": "log", "level": level, "message": message})

    def temporary(self, path: Path, sidecars: list[Path]) -> None:
        """A temporary output this run may leave behind if killed: the caller removes exactly these."""
        self._emit({"type": "temporary", "path": str(path), "sidecars": [str(p) for p in sidecars]})

    def result(self, outputs: dict[str, Any], summary: dict[str, Any]) -> None:
        self._emit({"type": "result", "outputs": outputs, "summary": summary})

    def error(self, message: str, kind: str) -> None:
        self._emit({"type": "error", "kind": kind, "message": message})
