"""Outputs written to temporary files and moved into place only when a command succeeds.

A temporary output is ``.<name>.<pid>-<token>.partial<suffix>`` beside the final one (a file, or
a folder for model outputs). Each temporary path is announced to a listener as soon as it is
chosen (the CLI prints it as a JSON ``temporary`` line), so the plugin can remove exactly the
files of its own run when the backend is killed — never by pattern.

Commits are refused once :func:`backend.lifeline.end_run` was called (the parent process is gone
or the run was cancelled): an output never appears after the run that asked for it has ended.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from backend import lifeline
from backend.errors import CancelledError, UserInputError

PARTIAL_MARKER = ".partial"
SIDECAR_SUFFIXES = (".aux.xml", "-wal", "-shm", "-journal")  # what GDAL/SQLite may write beside a file
MODEL_FOLDER_FILES = frozenset({"config.json", "weights.pt"})

TemporaryListener = Callable[[Path, list[Path]], None]
_listener: TemporaryListener | None = None


def set_temporary_listener(listener: TemporaryListener | None) -> None:
    """Call ``listener(path, sidecars)`` for every temporary path chosen from now on."""
    global _listener
    _listener = listener


def _announce(path: Path) -> None:
    if _listener is not None:
        _listener(path, _sidecars(path))


def partial_path(final: Path) -> Path:
    """A new temporary sibling of ``final``, unique to this process and call."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return final.with_name(f".{final.name}.{token}{PARTIAL_MARKER}{final.suffix}")


def is_model_folder(path: Path) -> bool:
    """An empty folder, or one holding only what a model folder holds (``config.json``, ``weights.pt``)."""
    try:
        names = {child.name for child in path.iterdir()}
    except OSError:
        return False
    return names <= MODEL_FOLDER_FILES


def check_writable(final: str | os.PathLike, folder: bool = False) -> Path:
    """Resolve an output path, creating its parent folder; raise a clear error when it cannot be written.

    ``folder``: the output is a folder (a model); an existing one may be replaced only when it is
    empty or a model folder, so that no other files are ever deleted.
    """
    path = Path(final).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"Cannot create the output folder {path.parent}: {exc.strerror}.") from exc
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UserInputError(f"The output folder {path.parent} is not writable; choose another output path.")
    if not path.exists():
        return path
    if folder:
        if not path.is_dir():
            raise UserInputError(f"The output folder {path} exists as a file; choose a folder name.")
        if not is_model_folder(path):
            raise UserInputError(
                f"The output folder {path} exists and holds other files than a model "
                "(config.json, weights.pt); choose a new or empty folder."
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserInputError(f"The output folder {path} is not writable; choose another folder.")
    elif path.is_dir():
        raise UserInputError(f"The output {path} is a folder; give a file name.")
    elif not os.access(path, os.W_OK):
        raise UserInputError(f"The output {path} exists and is read-only; choose another output path.")
    return path


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in SIDECAR_SUFFIXES]


def _remove_temporary(tmp: Path) -> None:
    """A temporary output and whatever GDAL/SQLite wrote beside it."""
    for path in [tmp, *_sidecars(tmp)]:
        remove_path(path)


def remove_path(path: Path) -> None:
    """Delete a file or folder tree if it exists (temporary outputs only)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


_ACTIVE: list[AtomicOutputs] = []


def discard_all_pending() -> None:
    """Remove the temporary files of every output still being written (used on cancel)."""
    for outputs in list(_ACTIVE):
        outputs.discard()


lifeline.on_end(discard_all_pending)


class AtomicOutputs:
    """Collects temporary output paths; commits all of them on success, removes all on failure.

    >>> with AtomicOutputs() as outputs:
    ...     tmp = outputs.temporary("result.tif")   # write to tmp
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Path] = {}
        self._folders: set[Path] = set()
        self._scratch: list[Path] = []

    def _register(self, final_path: Path) -> Path:
        replaced = self._pending.get(final_path)
        if replaced is not None:  # asked again for the same output: the earlier temporary is dropped
            _remove_temporary(replaced)
        tmp = partial_path(final_path)
        _announce(tmp)
        self._pending[final_path] = tmp
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        return tmp

    def temporary(self, final: str | os.PathLike) -> Path:
        """The temporary file to write instead of ``final``."""
        return self._register(check_writable(final))

    def temporary_folder(self, final: str | os.PathLike) -> Path:
        """A new, empty temporary folder to fill instead of the folder ``final`` (a model folder)."""
        final_path = check_writable(final, folder=True)
        tmp = self._register(final_path)
        tmp.mkdir()
        self._folders.add(final_path)
        return tmp

    def scratch(self, beside: str | os.PathLike, suffix: str) -> Path:
        """A temporary working file of this run (name ending in ``suffix``) beside the output ``beside``: announced
        like the outputs and removed when they are committed or discarded."""
        final = check_writable(beside)
        path = partial_path(final.with_name(f"{final.stem}.scratch{suffix}"))
        _announce(path)
        self._scratch.append(path)
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        return path

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def commit(self) -> None:
        """Move every temporary output onto its final path (all-or-nothing per output)."""
        with lifeline.commit_guard() as allowed:
            if not allowed:
                self.discard()
                raise CancelledError("The run was cancelled; no output was written.")
            for final, tmp in self._pending.items():
                if not tmp.exists():
                    raise RuntimeError(f"Output {final} was never written.")
            for final, tmp in self._pending.items():
                if final in self._folders:
                    self._replace_folder(tmp, final)
                    continue
                for stale in _sidecars(final):
                    stale.unlink(missing_ok=True)
                os.replace(tmp, final)
                for side_tmp, side_final in zip(_sidecars(tmp), _sidecars(final)):
                    if side_tmp.exists():
                        os.replace(side_tmp, side_final)
            self._remove_scratch()
            self._forget()

    @staticmethod
    def _replace_folder(tmp: Path, final: Path) -> None:
        if final.exists():
            check_writable(final, folder=True)  # still only a model folder: safe to replace
            old = partial_path(final.with_name(final.name + ".old"))
            _announce(old)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)

    def discard(self) -> None:
        for tmp in self._pending.values():
            _remove_temporary(tmp)
        self._remove_scratch()
        self._forget()

    def _remove_scratch(self) -> None:
        for path in self._scratch:
            _remove_temporary(path)
        self._scratch.clear()

    def _forget(self) -> None:
        self._pending.clear()
        self._folders.clear()
        if self in _ACTIVE:
            _ACTIVE.remove(self)
