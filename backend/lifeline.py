"""Ties a backend run to the process that started it: it ends promptly when cancelled or orphaned.

- SIGTERM/SIGINT (cancel) are taken by a watcher thread with ``sigwait`` on POSIX, so they act
  at once even while the main thread is inside a long numpy/torch call.
- With ``ST_ANALYZER_PARENT_PID`` set (the plugin's runner sets it and keeps a pipe on our stdin
  open), the run ends when that pipe closes or the parent pid changes (all OSs), and on Linux
  the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``). A parent that died cannot
  clean up: the folders it named in ``ST_ANALYZER_OWNED_FOLDERS`` (request file, input copies)
  are removed then.

Either way pending temporary outputs are removed and no output is committed afterwards.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PARENT_PID_VARIABLE = "ST_ANALYZER_PARENT_PID"
OWNED_FOLDERS_VARIABLE = "ST_ANALYZER_OWNED_FOLDERS"  # the parent's request/input-copy folders of this run
POLL_S = 0.25
_CANCEL_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1

_parent_pid: int | None = None
_gone_code = 1
_commit_lock = threading.RLock()
_ending = False
_cleanups: list[Callable[[], None]] = []


def on_end(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` (e.g. remove temporary outputs) when the run is cancelled or orphaned."""
    _cleanups.append(cleanup)


@contextmanager
def on_end_while(cleanup: Callable[[], None]) -> Iterator[None]:
    """Run ``cleanup`` if the run is cancelled or orphaned while inside the block (e.g. cancel a cluster's work)."""
    _cleanups.append(cleanup)
    try:
        yield
    finally:
        _cleanups.remove(cleanup)


@contextmanager
def commit_guard() -> Iterator[bool]:
    """Hold while moving outputs into place; yields False once the run is ending (do not commit then).

    The end of a run waits for a commit in progress, so an output is either whole or absent."""
    with _commit_lock:
        yield not _ending


def end_run() -> None:
    """No commit from now on; run the cleanups (used when the run is cancelled or orphaned)."""
    global _ending
    with _commit_lock:
        _ending = True
        for cleanup in _cleanups:
            cleanup()


def _end(code: int, say: Callable[[], None] | None) -> None:
    """Stop committing, drop temporaries, tell the parent (if it still listens) and exit at once."""
    end_run()
    if say is not None:
        try:
            say()
        except (OSError, ValueError):  # the parent's end of stdout may be gone
            pass
    os._exit(code)


def _parent_death_signal() -> None:
    """Linux: ask the kernel to send SIGTERM to this process when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch_signals(cancel_code: int, on_cancel: Callable[[], None]) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _CANCEL_SIGNALS)  # threads started later inherit the mask

    def wait() -> None:
        signal.sigwait(_CANCEL_SIGNALS)
        if _parent_pid is not None and _parent_died():  # PR_SET_PDEATHSIG, not a cancel
            _parent_gone(_gone_code)
        _end(cancel_code, on_cancel)

    threading.Thread(target=wait, name="st-analyzer-signals", daemon=True).start()


def _parent_died(wait_s: float = 0.1) -> bool:
    """Whether we were orphaned (the kernel's death signal may come a moment before the re-parenting shows)."""
    deadline = time.monotonic() + wait_s
    while os.getppid() == _parent_pid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _remove_owned_folders() -> None:
    import shutil

    for folder in filter(None, os.environ.get(OWNED_FOLDERS_VARIABLE, "").split(os.pathsep)):
        if os.path.basename(folder).startswith("st_analyzer_"):  # only what the plugin's runner makes
            shutil.rmtree(folder, ignore_errors=True)


def _parent_gone(gone_code: int) -> None:
    end_run()
    _remove_owned_folders()
    os._exit(gone_code)


def _watch_parent(parent_pid: int, gone_code: int) -> None:
    def stdin_closed() -> None:
        try:
            if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
                return  # not the parent's pipe (a terminal or /dev/null): the pid watch decides
        except (OSError, ValueError, AttributeError):
            return
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        _parent_gone(gone_code)

    def pid_changed() -> None:
        if os.getppid() != parent_pid:  # a launcher in between (Windows venvs): the stdin pipe tells
            return
        while os.getppid() == parent_pid:
            time.sleep(POLL_S)
        _parent_gone(gone_code)

    threading.Thread(target=stdin_closed, name="st-analyzer-stdin", daemon=True).start()
    threading.Thread(target=pid_changed, name="st-analyzer-parent", daemon=True).start()


def install(cancel_code: int, gone_code: int, on_cancel: Callable[[], None]) -> None:
    """Start the watchers for this process: call once, from the main thread, before importing numpy,
    torch or GDAL (their worker threads must inherit the blocked cancel signals)."""
    global _parent_pid, _gone_code
    text = os.environ.get(PARENT_PID_VARIABLE, "")
    if text.isdigit() and int(text) == os.getppid():  # our direct parent: its death can be told apart from a cancel
        _parent_pid, _gone_code = int(text), gone_code
    if hasattr(signal, "pthread_sigmask"):
        _watch_signals(cancel_code, on_cancel)
    else:  # Windows: a plain handler (TerminateProcess cannot be caught; the plugin removes our temporaries)
        signal.signal(signal.SIGTERM, lambda *_: _end(cancel_code, on_cancel))
    if text.isdigit():
        _parent_death_signal()
        _watch_parent(int(text), gone_code)
