"""Where chunked work runs: ``SCHEDULER`` (request field ``scheduler``).

- ``""`` (default): local threads on all cores, in this process (no server needed);
- ``"processes"``: a local pool of worker processes, one per core;
- ``"tcp://host:port"``: an existing dask.distributed scheduler (the user's cluster). Its workers read the inputs
  by path (they must see the same files) and send results back; this process writes the outputs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from backend.errors import UserInputError

SCHEDULER_FIELD = "scheduler"  # accepted by every command (see commands/base.py)
CONNECT_TIMEOUT_S = 20
_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}/?$")


@dataclass(frozen=True)
class SchedulerChoice:
    """kind: "threads", "processes" or "cluster" (then ``address``, e.g. tcp://10.0.0.5:8786)."""

    kind: str = "threads"
    address: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> SchedulerChoice:
        value = (text or "").strip()
        if value.lower() in ("", "threads", "local"):
            return cls("threads")
        if value.lower() == "processes":
            return cls("processes")
        if _ADDRESS.match(value):
            return cls("cluster", value.rstrip("/"))
        raise UserInputError(
            f"SCHEDULER {value!r} is not understood: leave it empty for local threads on all cores, write "
            "'processes' for a local process pool, or give a dask scheduler's address such as tcp://host:8786."
        )

    def describe(self, workers: int, threads: int) -> str:
        if self.kind == "cluster":
            return f"the dask scheduler at {self.address} ({workers} workers, {threads} threads)"
        if self.kind == "processes":
            return f"a local pool of {workers} worker processes"
        return f"local threads ({threads})"


_current = SchedulerChoice()


def set_scheduler(text: str | None) -> None:
    """This run's scheduler (from the request's ``scheduler`` field)."""
    global _current
    _current = SchedulerChoice.parse(text)


def current_scheduler() -> SchedulerChoice:
    return _current


def local_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # Windows, macOS
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_client(choice: SchedulerChoice | None = None, reporter=None, chunks_in_this_thread: bool = False) -> Iterator:
    """A client for ``choice`` (default: this run's): :class:`LocalThreads` for local threads, else a
    dask.distributed Client (a local process pool is closed on exit; a cluster's workers get the backend if they
    lack it, and ``reporter`` says so).

    ``chunks_in_this_thread``: with local threads, compute the chunks one at a time in the calling thread instead —
    for engines that spread one chunk over worker processes themselves (those may only be started from the main
    thread)."""
    choice = choice or current_scheduler()
    if choice.kind == "threads":
        from threadpoolctl import threadpool_limits

        # One BLAS/OpenMP thread per chunk thread: the chunks are the parallelism (n threads × n BLAS threads
        # each was twice as slow). Worker processes get the same from dask's pre-spawn settings (OMP_NUM_THREADS=1).
        limits = threadpool_limits(1)
        client = LocalThreads(1 if chunks_in_this_thread else local_cores(), in_caller=chunks_in_this_thread)
        try:
            yield client
        finally:
            client.close()
            limits.restore_original_limits()
        return
    import logging

    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.core", "distributed.worker", "distributed.scheduler", "distributed.nanny"):
        logging.getLogger(name).setLevel(logging.ERROR)  # our own log says what runs where
    if choice.kind == "processes":
        cluster = LocalCluster(
            processes=True,
            n_workers=local_cores(),
            threads_per_worker=1,
            dashboard_address=":0",  # any free port: never a clash with a dashboard already on 8787
            memory_limit=0,  # chunk sizes keep to MEMORY_LIMIT; the workers are not restarted for memory
        )
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(choice.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UserInputError(
            f"Could not reach the dask scheduler at {choice.address} within {CONNECT_TIMEOUT_S} s ({exc}). "
            "Check that it runs and that this machine may connect to it, or leave SCHEDULER empty to run locally."
        ) from None
    try:
        from backend.progress import Reporter
        from backend.scale.workers import ensure_backend_on_workers

        ensure_backend_on_workers(client, reporter or Reporter())
        yield client
    finally:
        client.close()


class LocalThreads:
    """The default scheduler: a pool of threads in this process, each computing one chunk's dask graph with dask's
    synchronous scheduler (no event loop, no server); ``in_caller``: each chunk computed at once in the calling
    thread. Offers the part of a distributed Client that :func:`backend.scale.blocks.run_chunks` uses."""

    def __init__(self, threads: int, in_caller: bool = False) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.threads = threads
        self._pool = None if in_caller else ThreadPoolExecutor(threads, thread_name_prefix="st-analyzer-chunk")

    def scheduler_info(self) -> dict:
        return {"workers": {"local": {"nthreads": self.threads}}}

    def compute(self, collection):
        import dask

        if self._pool is not None:
            return self._pool.submit(lambda: dask.compute(collection, scheduler="sync")[0])
        from concurrent.futures import Future

        done = Future()
        try:
            done.set_result(dask.compute(collection, scheduler="sync")[0])
        except Exception as exc:  # noqa: BLE001 — given to the caller through the future, as from a thread
            done.set_exception(exc)
        return done

    def scatter(self, data, broadcast: bool = True):
        return data  # one process: the chunks share it as it is

    def cancel(self, futures) -> None:
        for future in futures:
            future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
