"""Outputs written to temporary files and moved into place only when a command succeeds.

A temporary file is ``.<name>.<pid>.partial<suffix>`` beside the final one; the plugin's
runner removes leftovers of that pattern after killing a cancelled run.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from backend.errors import UserInputError

PARTIAL_MARKER = ".partial"


def partial_path(final: Path, pid: int | None = None) -> Path:
    """The temporary sibling of ``final`` used while it is being written."""
    return final.with_name(f".{final.name}.{pid or os.getpid()}{PARTIAL_MARKER}{final.suffix}")


def check_writable(final: str | os.PathLike) -> Path:
    """Resolve an output path, creating its folder; raise a clear error when it cannot be written."""
    path = Path(final).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"Cannot create the output folder {path.parent}: {exc.strerror}.") from exc
    if not os.access(path.parent, os.W_OK):
        raise UserInputError(f"The output folder {path.parent} is not writable; choose another output path.")
    if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
        raise UserInputError(f"The output {path} exists and cannot be overwritten.")
    return path


def _sidecars(path: Path) -> list[Path]:
    """Files that GDAL/SQLite may write next to ``path`` (aux.xml, -wal, -shm, -journal)."""
    return [path.with_name(path.name + s) for s in (".aux.xml", "-wal", "-shm", "-journal")]


_ACTIVE: list["AtomicOutputs"] = []


def discard_all_pending() -> None:
    """Remove the temporary files of every output still being written (used on cancel)."""
    for outputs in list(_ACTIVE):
        outputs.discard()


class AtomicOutputs:
    """Collects temporary output paths; commits all of them on success, removes all on failure.

    >>> with AtomicOutputs() as outputs:
    ...     tmp = outputs.temporary("result.tif")   # write to tmp
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Path] = {}

    def temporary(self, final: str | os.PathLike) -> Path:
        final_path = check_writable(final)
        tmp = partial_path(final_path)
        self._pending[final_path] = tmp
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        return tmp

    def __enter__(self) -> "AtomicOutputs":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def commit(self) -> None:
        for final, tmp in self._pending.items():
            if not tmp.exists():
                raise RuntimeError(f"Output {final} was never written.")
            for stale in _sidecars(final):
                stale.unlink(missing_ok=True)
            os.replace(tmp, final)
            for side_tmp, side_final in zip(_sidecars(tmp), _sidecars(final)):
                if side_tmp.exists():
                    os.replace(side_tmp, side_final)
        self._forget()

    def discard(self) -> None:
        for tmp in self._pending.values():
            for path in [tmp, *_sidecars(tmp)]:
                path.unlink(missing_ok=True)
        self._forget()

    def _forget(self) -> None:
        self._pending.clear()
        if self in _ACTIVE:
            _ACTIVE.remove(self)
