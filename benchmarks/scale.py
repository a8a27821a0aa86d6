"""Scale benchmark: throughput and peak memory of the chunked engines on each scheduler.

Stacks are tiled from the shipped ERA5 hourly sample (744 steps) to the size asked, on disk. Each configuration
runs the backend command as a child process (``python -m backend``, as the plugin does) and prints the wall time,
the throughput in million cell-steps per second and the peak RSS of the largest process (the run or one of its
workers), next to the local default:

- ``threads``: SCHEDULER empty (threads on all cores, the default);
- ``processes``: SCHEDULER=processes (a local process pool, one per core);
- ``1 worker`` / ``2 workers``: a dask.distributed scheduler with that many one-thread worker processes
  (SCHEDULER=tcp://…), as a user's cluster would be used.

Rows (``--sections``, all by default): anomaly scoring of a stack of ``--gigabytes`` (with MEMORY_LIMIT
``--memory-limit-mb``: a stack several times the memory limit runs in bounded memory), diagnostics of
``--diagnostics-cells`` cells, emerging hot spots (daily means) and clustering of the big stack with the local
default, and kriging to a ``--kriging-size``² × 28-day grid (nmax 50) against one thread.

    .venv/bin/python benchmarks/scale.py [--gigabytes 2] [--memory-limit-mb 512] [--diagnostics-cells 4096]
        [--sections anomaly,diagnostics,neighbourhoods,kriging]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.data.raster_io import StackWriter, read_stack  # noqa: E402
from backend.data.raster_stack import GridSpec  # noqa: E402


def tiled_stack(path: Path, cells: int) -> tuple[int, int, int]:
    """A stack of about ``cells`` cells tiled from the ERA5 sample (744 steps), written window by window."""
    sample = read_stack(REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif")
    t, h, w = sample.values.shape
    side = max(16, int(math.sqrt(cells)))
    grid = GridSpec(side, side, sample.grid.transform, sample.grid.crs)
    if not path.exists():
        from rasterio.windows import Window

        with StackWriter(path, grid, sample.times) as writer:
            for row in range(0, side, h):
                for col in range(0, side, w):
                    window = Window(col, row, min(w, side - col), min(h, side - row))
                    shift = np.float32((row // h + col // w) % 5)  # tiles differ a little
                    writer.write_window(sample.values[:, : window.height, : window.width] + shift, window)
    return t, side, side


def run_backend(command: str, request: dict, scheduler: str, folder: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the largest process) of one backend run."""
    request_path = folder / f"{command}.json"
    request_path.write_text(json.dumps({**request, "scheduler": scheduler} if scheduler else request))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "done = subprocess.run([sys.executable, '-m', 'backend', *sys.argv[1:]], capture_output=True, text=True); "
        "wall = time.perf_counter() - t; "
        "print(done.returncode, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(done.stdout[-2000:] if done.returncode else '')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, command, str(request_path)], capture_output=True, text=True, env=env
    )
    returncode, wall, rss_kb = done.stdout.split()
    if returncode != "0":
        raise RuntimeError(f"{command} failed: {done.stderr}")
    return float(wall), float(rss_kb) / 1024


def schedulers(cores: int):
    """(name, SCHEDULER text, cluster or None) for each configuration."""
    from distributed import LocalCluster

    yield "threads (default)", "", None
    yield "processes", "processes", None
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        yield f"{workers} worker{'s' * (workers > 1)}", cluster.scheduler_address, cluster


def table(title: str, rows: list[tuple[str, float, float, float]], baseline: str) -> None:
    reference = dict((name, wall) for name, wall, _, _ in rows)[baseline]
    print(f"\n{title}")
    print(f"{'scheduler':<20}{'wall s':>9}{'M cell-steps/s':>16}{'peak RSS MB':>13}{'vs ' + baseline:>24}")
    for name, wall, rate, rss in rows:
        print(f"{name:<20}{wall:>9.1f}{rate:>16.3f}{rss:>13.0f}{reference / wall:>23.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0, help="size of the anomaly-scoring stack (float32)")
    parser.add_argument("--memory-limit-mb", type=float, default=512.0, help="MEMORY_LIMIT of the runs")
    parser.add_argument("--diagnostics-cells", type=int, default=4096, help="cells of the diagnostics stack")
    parser.add_argument("--kriging-size", type=int, default=200, help="grid side (cells) of the kriging row")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "st_analyzer_scale_benchmark")
    parser.add_argument("--sections", default="anomaly,diagnostics,neighbourhoods,kriging", help="rows to run")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    args.folder.mkdir(parents=True, exist_ok=True)
    from backend.scale.scheduler import local_cores

    cores = local_cores()
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"{cores} cores, {ram_gb:.1f} GiB RAM; MEMORY_LIMIT {args.memory_limit_mb:.0f} MB; folder {args.folder}")

    big = args.folder / f"stack_{args.gigabytes:g}gb.tif"
    t, h, w = tiled_stack(big, int(args.gigabytes * 2**30 / 4 / 744))
    print(
        f"anomaly stack: {t} × {h} × {w} = {t * h * w * 4 / 2**30:.2f} GiB as float32 (compressed on disk: "
        f"{big.stat().st_size / 2**30:.2f} GiB)"
    )
    small = args.folder / f"stack_{args.diagnostics_cells}cells.tif"
    ts, hs, ws = tiled_stack(small, args.diagnostics_cells)
    limit = {"memory_limit_mb": args.memory_limit_mb}
    anomaly_rows, diagnostics_rows = [], []
    for name, scheduler, cluster in schedulers(cores) if sections & {"anomaly", "diagnostics"} else ():
        try:
            if "anomaly" in sections:
                wall, rss = run_backend(
                    "detectrasteranomalies",
                    {"input": str(big), "output_scores": str(args.folder / "scores.tif"), **limit},
                    scheduler,
                    args.folder,
                )
                anomaly_rows.append((name, wall, t * h * w / wall / 1e6, rss))
            if "diagnostics" in sections:
                wall, rss = run_backend(
                    "timeseriesdiagnostics",
                    {"source": {"raster": str(small)}, "output": str(args.folder / "diagnostics.tif"), **limit},
                    scheduler,
                    args.folder,
                )
                diagnostics_rows.append((name, wall, ts * hs * ws / wall / 1e6, rss))
            print(f"  {name}: done", flush=True)
        finally:
            if cluster is not None:
                cluster.close()
    if anomaly_rows:
        table("Anomaly scoring (read, score, write scores)", anomaly_rows, "threads (default)")
    if diagnostics_rows:
        table(
            f"Diagnostics, {hs}×{ws} cells × {ts} steps (all tests, read + write)",
            diagnostics_rows,
            "threads (default)",
        )
    if "neighbourhoods" in sections:
        rows = []
        for label, command, request in (
            ("emerging hot spots", "emerginghotspots", {"time_step": "1D", "output": str(args.folder / "hot.tif")}),
            ("clustering", "timeseriesclustering", {"n_clusters": 4, "output": str(args.folder / "clusters.tif")}),
        ):
            wall, rss = run_backend(command, {"source": {"raster": str(big)}, **request, **limit}, "", args.folder)
            rows.append((label, wall, t * h * w / wall / 1e6, rss))
        print(f"\nThe {t * h * w * 4 / 2**30:.2f} GiB stack, MEMORY_LIMIT {args.memory_limit_mb:.0f} MB, local threads")
        print(f"{'algorithm':<20}{'wall s':>9}{'M cell-steps/s':>16}{'peak RSS MB':>13}")
        for label, wall, rate, rss in rows:
            print(f"{label:<20}{wall:>9.1f}{rate:>16.3f}{rss:>13.0f}")
    if "kriging" not in sections:
        return

    from distributed import LocalCluster

    side = args.kriging_size
    models = json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())
    model_file = args.folder / "separable.json"
    model_file.write_text(json.dumps(models["separable"]))
    grid = {"xmin": 300000, "ymin": 5300000, "xmax": 900000, "ymax": 6100000, "pixel_size": 800000 / side}
    request = {
        "points": {
            "path": str(REPO / "sample_data" / "de_pm10_2005q1.gpkg"),
            "id_field": "station_id",
            "time_field": "date",
            "value_field": "pm10",
        },
        "model_file": str(model_file),
        "kriging": {"nmax": 50},
        "grid": {**grid, "start": "2005-02-01", "end": "2005-02-28", "step": "1 day"},
        "output": str(args.folder / "kriged.tif"),
        "max_predictions": 10**12,
    }
    one = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        rows = []
        for name, scheduler in (("one thread", one.scheduler_address), ("threads (default)", "")):
            wall, rss = run_backend("stkriging", request, scheduler, args.folder)
            cells = int(math.ceil(600000 / grid["pixel_size"])) * side * 28
            rows.append((name, wall, cells / wall / 1e6, rss))
    finally:
        one.close()
    table(f"Kriging to a grid, ~{side}×{side} × 28 days, nmax 50 (M predictions/s)", rows, "one thread")
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(benchmark process itself: peak RSS {usage:.0f} MB)")


if __name__ == "__main__":
    main()
