"""Memory budget of a run: estimate the size of the work before allocating, refuse what does not fit.

The budget is ``MEMORY_LIMIT`` (MB) where the algorithm has that parameter (request field
``memory_limit_mb``), else the environment variable ``ST_ANALYZER_MEMORY_LIMIT_MB``, else a
quarter of the memory this process may use (physical RAM, or a smaller container limit).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from backend.errors import UserInputError

ENV_LIMIT = "ST_ANALYZER_MEMORY_LIMIT_MB"
DEFAULT_SHARE = 0.25
_MB = 1024**2
_limit_mb: float | None = None


def set_limit_mb(limit_mb: float | None) -> None:
    """Set this process's budget in MB (None or 0 = the default)."""
    global _limit_mb
    if limit_mb is not None and not (0 <= float(limit_mb) < 1e12):
        raise UserInputError(f"The memory limit must be ≥ 0 MB (0 = a quarter of RAM), got {limit_mb}.")
    _limit_mb = float(limit_mb) if limit_mb else None


def _container_limit_bytes() -> int | None:
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def _physical_bytes() -> int:
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [
                ("length", ctypes.c_ulong),
                ("load", ctypes.c_ulong),
                ("total", ctypes.c_ulonglong),
                ("available", ctypes.c_ulonglong),
                ("page_total", ctypes.c_ulonglong),
                ("page_free", ctypes.c_ulonglong),
                ("virtual_total", ctypes.c_ulonglong),
                ("virtual_free", ctypes.c_ulonglong),
                ("extended", ctypes.c_ulonglong),
            ]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
        return int(status.total)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def usable_memory_bytes() -> int:
    """Memory this process may use: physical RAM, or the container's limit when smaller."""
    physical = _physical_bytes()
    container = _container_limit_bytes()
    return min(physical, container) if container else physical


def budget_bytes() -> int:
    """The run's memory budget in bytes."""
    limit = _limit_mb
    if limit is None:
        text = os.environ.get(ENV_LIMIT, "").strip()
        limit = float(text) if text.replace(".", "", 1).isdigit() and float(text) > 0 else None
    if limit is not None:
        return int(limit * _MB)
    return int(usable_memory_bytes() * DEFAULT_SHARE)


def format_bytes(count: float) -> str:
    """``1.5 GB``, ``300 MB``: sizes for messages."""
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", _MB)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count / 1024:.3g} kB"


def require_memory(needed_bytes: float, what: str, advice: str) -> None:
    """Refuse work whose estimated size exceeds the budget, saying what to change.

    ``what``: the work, e.g. "A 5000×5000 px grid with 28 time steps"; ``advice``: what to change.
    """
    budget = budget_bytes()
    if needed_bytes > budget:
        source = (
            f"the memory limit of {budget / _MB:.0f} MB"
            if (_limit_mb or os.environ.get(ENV_LIMIT))
            else f"a quarter of this machine's memory ({format_bytes(budget)})"
        )
        raise UserInputError(
            f"{what} needs about {format_bytes(needed_bytes)} of memory, more than {source}. "
            f"{advice} (Or raise MEMORY_LIMIT if the machine has the memory to spare.)"
        )


def require_disk_space(output: str | Path, needed_bytes: float) -> None:
    """Refuse an output whose uncompressed size exceeds the free space of its folder."""
    import shutil

    folder = Path(output).expanduser().absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise UserInputError(
            f"{Path(output).name} may need up to {format_bytes(needed_bytes)} on disk but "
            f"{folder} has {format_bytes(free)} free. Free some space, choose another folder, or "
            "use a coarser grid, a smaller extent or fewer time steps."
        )
