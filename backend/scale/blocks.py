"""One engine function per chunk on a dask.distributed client: results come back in any order and are handed to
the caller (who writes them), with at most a few chunks in flight per worker thread, so memory stays bounded
whatever the size of the whole.

Progress counts finished chunks; cancelling the run cancels the futures on the scheduler. A worker that dies
mid-run is replaced by dask (its chunks run again elsewhere: the tasks are pure, so the output is the same); a
cluster left without workers, or a chunk that killed several workers, stops the run with a message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from backend import lifeline
from backend.errors import UserInputError
from backend.memory import budget_bytes, format_bytes
from backend.progress import Reporter
from backend.scale.scheduler import SchedulerChoice, current_scheduler, open_client

IN_FLIGHT_PER_THREAD = 2
NO_WORKERS_WAIT_S = 60.0
WAIT_S = 0.02  # between looks at the futures
CHECK_S = 2.0  # between looks at the cluster's workers
MIN_SIDE, MAX_SIDE = 8, 2048


@dataclass(frozen=True)
class Workers:
    """What a client can run on: worker processes and their threads in all."""

    processes: int
    threads: int


def workers_of(client) -> Workers:
    info = client.scheduler_info().get("workers", {})
    return Workers(len(info), sum(int(w.get("nthreads", 1)) for w in info.values()))


def chunk_side(
    bytes_per_cell: float,
    threads: int,
    grid_cells: int,
    file_block: tuple[int, int] | None = None,
    bytes_per_chunk: float = 0.0,
    reserved: float = 0.0,
) -> int:
    """Side (cells) of square chunks such that the chunks in flight (``IN_FLIGHT_PER_THREAD`` per thread), each
    needing ``bytes_per_cell`` per cell (all time steps and the engine's work arrays) and ``bytes_per_chunk`` whatever
    its size, fit the run's memory budget (MEMORY_LIMIT) less ``reserved`` bytes (GDAL's block cache); a multiple of
    the file's block (rows, cols) where that is smaller, so a chunk reads whole blocks; and small enough that each
    thread gets chunks of a grid of ``grid_cells`` cells."""
    in_flight = max(1, threads) * IN_FLIGHT_PER_THREAD
    per_chunk = (budget_bytes() - reserved) / in_flight - bytes_per_chunk
    side = int(math.sqrt(max(per_chunk, 0.0) / max(bytes_per_cell, 1.0)))
    if side < MIN_SIDE:
        needed = MIN_SIDE**2 * bytes_per_cell + bytes_per_chunk
        raise UserInputError(
            f"A chunk of {MIN_SIDE}×{MIN_SIDE} cells needs {format_bytes(needed)} for each of "
            f"{in_flight} chunks in flight, more than the memory budget ({format_bytes(budget_bytes())}). Raise "
            "MEMORY_LIMIT, or use fewer time steps."
        )
    side = max(MIN_SIDE, min(side, MAX_SIDE, math.ceil(math.sqrt(grid_cells / in_flight))))
    if file_block:
        block = max(file_block)
        if 16 <= block <= side:
            side = side // block * block
    return side


def chunk_tasks(function: Callable, stack, *args) -> list[Callable[[], Any]]:
    """For :func:`run_chunks`: one task per chunk of ``stack`` (a LazyStack), ``function(values float32[T, h, w],
    *args)`` as a dask Delayed that reads its chunk where it runs."""
    return [partial(chunk_task, function, stack, i, *args) for i in range(len(stack.windows()))]


def chunk_task(function: Callable, stack, index: int, *args):
    """``function(values of chunk index, *args)`` as a dask Delayed (see :func:`chunk_tasks`)."""
    import dask

    return dask.delayed(function, pure=True)(stack.chunk(index), *args)


def halo_tasks(function: Callable, stack, halo: int, *args) -> list[Callable[[], Any]]:
    """Like :func:`chunk_tasks` for neighbourhood statistics: ``function(values float32[T, h + halos, w + halos],
    inner, *args)`` with the chunk read with ``halo`` cells around it; the chunk itself is
    ``values[:, inner[0][0]:inner[0][1], inner[1][0]:inner[1][1]]``."""
    import dask

    task = dask.delayed(function, pure=True)
    tasks = []
    for i in range(len(stack.windows())):
        chunk = stack.chunk_with_halo(i, halo)
        tasks.append(partial(task, chunk.values, (chunk.rows, chunk.cols), *args))
    return tasks


def run_chunks(
    tasks: Sequence[Callable[[], Any]],
    on_result: Callable[[int, Any], None],
    reporter: Reporter,
    client=None,
    what: str = "chunk",
) -> None:
    """Compute ``tasks[i]()`` — each returns a dask collection or Delayed for chunk i — on ``client`` (default:
    a client for this run's scheduler) and call ``on_result(i, value)`` in this process as each finishes."""
    if client is None:
        with open_client() as own:
            return run_chunks(tasks, on_result, reporter, own, what)
    threads = max(1, workers_of(client).threads)
    limit = threads * IN_FLIGHT_PER_THREAD
    running: dict[Any, int] = {}
    pending = iter(range(len(tasks)))
    done = 0
    no_workers_since: float | None = None

    def submit_next() -> None:
        index = next(pending, None)
        if index is not None:
            running[client.compute(tasks[index]())] = index

    def cancel_all() -> None:
        try:
            client.cancel(list(running))
        except Exception:  # noqa: BLE001 - the client may already be closing
            pass

    with lifeline.on_end_while(cancel_all):
        try:
            for _ in range(limit):
                submit_next()
            last_check = time.monotonic()
            while running:
                finished = [future for future in running if future.done()]
                if not finished:
                    time.sleep(WAIT_S)
                    if time.monotonic() - last_check > CHECK_S:
                        no_workers_since, last_check = _check_workers(client, no_workers_since), time.monotonic()
                    continue
                for future in finished:
                    index = running.pop(future)
                    on_result(index, _value(future, index, what))
                    if hasattr(future, "release"):  # a distributed future: let the scheduler forget it
                        future.release()
                    done += 1
                    reporter.progress(100.0 * done / len(tasks), f"{what} {done}/{len(tasks)}")
                    submit_next()
        except BaseException:
            cancel_all()
            raise


def _value(future, index: int, what: str) -> Any:
    """The chunk's result; failures that have a cause the user can act on become one message. (distributed's
    exceptions are told by name: the default thread pool never imports distributed.)"""
    from rasterio.errors import RasterioIOError

    try:
        return future.result()
    except (OSError, RasterioIOError) as exc:
        raise UserInputError(
            f"A worker could not read or write while computing {what} {index + 1}: {exc}. On a dask cluster the "
            "workers read the inputs by the same path as this machine: put them on storage the workers share."
        ) from None
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise UserInputError(
                f"Dask workers died while computing {what} {index + 1} (several times): most often they ran out "
                "of memory. Lower MEMORY_LIMIT (smaller chunks) or give the workers more memory."
            ) from None
        if type(exc).__name__ == "CancelledError":
            raise UserInputError(
                f"The scheduler cancelled {what} {index + 1} (it restarted, or another client cancelled it); run again."
            ) from None
        raise


def _check_workers(client, since: float | None) -> float | None:
    if workers_of(client).processes:
        return None
    now = time.monotonic()
    since = since or now
    if now - since > NO_WORKERS_WAIT_S:
        raise UserInputError(
            f"The dask scheduler has had no workers for {NO_WORKERS_WAIT_S:.0f} s, so the run cannot go on. Start "
            "workers (dask worker <scheduler address>) or leave SCHEDULER empty to run locally."
        )
    return since


def describe_run(client, choice: SchedulerChoice | None = None) -> str:
    """E.g. "local threads (2)" or "the dask scheduler at tcp://… (2 workers, 4 threads)"."""
    workers = workers_of(client)
    return (choice or current_scheduler()).describe(workers.processes, workers.threads)


def open_in_chunks(
    path: str, client, bytes_per_cell: float, reporter: Reporter, bytes_per_chunk: float = 0.0, side: int = 0
):
    """The stack at ``path`` as a :class:`~backend.data.lazy_stack.LazyStack` in chunks sized for ``client``'s
    threads and the memory budget (:func:`chunk_side`; ``side`` > 0 forces it); the log says how it will run."""
    from backend.data.lazy_stack import file_block_shape, open_lazy_stack
    from backend.data.raster_io import open_raster

    cache = set_block_cache(path, reporter)
    if not side:
        with open_raster(path) as src:
            cells = src.width * src.height
        threads = workers_of(client).threads
        side = chunk_side(bytes_per_cell, threads, cells, file_block_shape(path), bytes_per_chunk, cache)
    stack = open_lazy_stack(path, side)
    reporter.log(f"{len(stack.windows())} chunk(s) of up to {side}×{side} cells on {describe_run(client)}.")
    return stack


def set_block_cache(path: str, reporter: Reporter) -> int:
    """Size GDAL's block cache of this process (bytes, returned) for reading ``path`` in chunks taken row by row:
    one row of the file's blocks over all bands, so that each compressed block is decoded once, but at most a
    third of the memory budget (the chunks get the rest); the log says when that is too small. GDAL's default
    (5 % of RAM) would otherwise come on top of MEMORY_LIMIT."""
    from rasterio.env import set_gdal_config

    from backend.data.raster_io import open_raster

    with open_raster(path) as src:
        block_rows = src.block_shapes[0][0] if src.count else 1
        item = np.dtype(src.dtypes[0]).itemsize if src.count else 4
        row_of_blocks = src.count * min(block_rows, src.height) * src.width * item
    cache = int(min(row_of_blocks * 1.1 + 16 * 2**20, budget_bytes() / 3))
    if cache < row_of_blocks:
        reporter.log(
            f"A row of the file's blocks over all bands takes {format_bytes(row_of_blocks)}; GDAL's cache gets "
            f"{format_bytes(cache)} (a third of the memory budget), so blocks are decoded more than once. A larger "
            "MEMORY_LIMIT, or a copy of the stack with smaller blocks or pixel interleave, reads faster."
        )
    set_gdal_config("GDAL_CACHEMAX", cache)
    return cache
