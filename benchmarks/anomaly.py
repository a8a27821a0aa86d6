"""Benchmark: anomaly detection skill on NAB traffic series, and raster throughput / memory.

Run:  .venv/bin/python benchmarks/anomaly.py
Skill: AUC-PR (average precision) per series of our detectors vs a plain rolling robust z-score and random
scores, one setting for all series (no per-series tuning), from the same run. Point-adjusted F1 is not used.
Raster: cells × steps per second and peak memory of block-wise scoring for stacks of growing size
(tiles of the shipped ERA5 stack), each in a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.anomaly.detect import DetectionSettings, detect_point_anomalies  # noqa: E402
from backend.anomaly.evaluation import event_scores, point_labels, ranking_scores  # noqa: E402
from backend.anomaly.scores import rolling_robust_z  # noqa: E402
from backend.data.point_panel import PointPanel  # noqa: E402

SHARED_NAB = REPO.parent / "shared" / "data" / "nab_traffic"
SAMPLE_NAB = REPO / "sample_data" / "nab_traffic"
DETECTORS = {
    "auto: seasonal + rolling median, multi-scale (default)": DetectionSettings(),
    "seasonal, causal z, smoothed 12": DetectionSettings(method="seasonal", causal=True),
    "seasonal, causal z, smoothed 24": DetectionSettings(method="seasonal", causal=True, smooth_steps=24),
    "rolling median 1 day, causal z, smoothed 24": DetectionSettings(
        method="rolling_median", window="1D", causal=True, smooth_steps=24
    ),
    "seasonal, whole-series z, smoothed 12": DetectionSettings(method="seasonal"),
    "rolling median 6h, smoothed 12": DetectionSettings(method="rolling_median"),
    "seasonal, causal z, no smoothing": DetectionSettings(method="seasonal", causal=True, smooth_steps=1),
}


def skill_table() -> None:
    folder = SHARED_NAB if SHARED_NAB.exists() else SAMPLE_NAB
    labels = json.loads((folder / "labels.json").read_text())
    rows = []
    for name, entry in labels.items():
        if not (folder / name).exists():
            continue
        frame = pd.read_csv(folder / name)
        times = pd.to_datetime(frame["timestamp"]).to_numpy().astype("datetime64[s]")
        values = frame["value"].to_numpy(float)
        windows = [(np.datetime64(pd.Timestamp(a)), np.datetime64(pd.Timestamp(b))) for a, b in entry["windows"]]
        truth = point_labels(times, windows)
        panel = PointPanel([name], [[0.0, 0.0]], "", times, values[None])
        row = {"series": name, "points": times.size, "labelled share": truth.mean()}
        reference = np.abs(rolling_robust_z(times, values))
        row["rolling robust z (1 day)"] = ranking_scores(truth, reference)["auc_pr"]
        row["random"] = ranking_scores(truth, np.random.default_rng(0).random(times.size))["auc_pr"]
        for label, settings in DETECTORS.items():
            detection = detect_point_anomalies(panel, settings)
            row[label] = ranking_scores(truth, detection.table["score"].to_numpy())["auc_pr"]
            if label.endswith("(default)"):
                events = event_scores(times, detection.table["is_anomaly"].to_numpy() > 0, windows)
                row["default: event recall @3.5"] = events["event_recall"]
                row["default: flagged outside windows"] = events["false_alarm_points"]
        rows.append(row)
    table = pd.DataFrame(rows)
    print(f"\n## AUC-PR on NAB realTraffic ({folder})")
    print(table.round(3).to_string(index=False))
    methods = ["rolling robust z (1 day)", "random", *DETECTORS]
    mean = table[methods].mean()
    print("\n| method | mean AUC-PR | ratio to rolling robust z |\n|---|---|---|")
    for method in methods:
        print(f"| {method} | {mean[method]:.3f} | {mean[method] / mean['rolling robust z (1 day)']:.2f}× |")
    leave_one_series_out(table)


def leave_one_series_out(table: pd.DataFrame) -> None:
    """Choosing the detector among DETECTORS by mean AUC-PR on the other series, scored on the one left out: what
    a choice made on labelled series gives on a series it never saw (next to the default's in-sample figure)."""
    reference = "rolling robust z (1 day)"
    chosen = []
    print("\n## Leave-one-series-out: the detector chosen on the other series, scored on the held-out one")
    print("| held-out series | chosen on the others | AUC-PR | rolling robust z | ratio |\n|---|---|---|---|---|")
    for i, row in table.iterrows():
        others = table.drop(index=i)
        best = max(DETECTORS, key=lambda d: others[d].mean())
        chosen.append(row[best])
        print(
            f"| {row['series']} | {best} | {row[best]:.3f} | {row[reference]:.3f} | {row[best] / row[reference]:.2f}× |"
        )
    default = next(d for d in DETECTORS if d.endswith("(default)"))
    loso, base, in_sample = np.mean(chosen), table[reference].mean(), table[default].mean()
    print(
        f"\nmean AUC-PR: leave-one-series-out choice {loso:.3f} ({loso / base:.2f}× the rolling robust z); "
        f"the default on every series (in-sample) {in_sample:.3f} ({in_sample / base:.2f}×)"
    )


RASTER_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from backend.commands import run_command
started = time.perf_counter()
result = run_command("detectrasteranomalies", {"input": sys.argv[2], "output_scores": sys.argv[3], "block": 128})
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def raster_table() -> None:
    from backend.data.raster_io import read_stack, write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    base = read_stack(REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif")
    print("\n## Raster anomaly scoring (seasonal, block 128 px), fresh process per stack")
    print(
        "| stack | cells × steps | file MB (float32) | seconds | cells·steps / s | peak RSS MB "
        "|\n|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory() as folder:
        for tiles in (1, 3, 6):
            values = np.tile(base.values, (1, tiles, tiles))
            h, w = values.shape[1:]
            grid = GridSpec(w, h, base.grid.transform, base.grid.crs)
            path = Path(folder) / f"tiled_{tiles}.tif"
            write_stack(RasterStack(values, base.times, grid), path)
            del values
            done = subprocess.run(
                [sys.executable, "-c", RASTER_CHILD, str(REPO), str(path), str(Path(folder) / "s.tif")],
                capture_output=True,
                text=True,
                check=True,
            )
            stats = json.loads(done.stdout.strip().splitlines()[-1])
            n = h * w * base.times.size
            print(
                f"| {w}×{h}×{base.times.size} | {n:,} | {n * 4 / 2**20:.0f} | {stats['seconds']:.1f} | "
                f"{n / stats['seconds']:,.0f} | {stats['peak_mb']:.0f} |"
            )


def large_table(target_bytes: float) -> None:
    """One stack larger than ``target_bytes`` (float32), written band by band from tiles of the ERA5 sample."""
    from backend.data.raster_io import StackWriter, read_stack
    from backend.data.raster_stack import GridSpec

    base = read_stack(REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif")
    t, h, w = base.values.shape
    tiles = int(np.ceil(np.sqrt(target_bytes / (4 * t * h * w))))
    grid = GridSpec(w * tiles, h * tiles, base.grid.transform, base.grid.crs)
    size = 4 * t * grid.width * grid.height
    with tempfile.TemporaryDirectory(dir=REPO / "output") as folder:
        path = Path(folder) / "large.tif"
        started = time.perf_counter()
        with StackWriter(path, grid, base.times) as writer:
            for band in range(t):
                writer.write_band(band, np.tile(base.values[band], (tiles, tiles)))
        print(
            f"\n## Large stack: {grid.width}×{grid.height}×{t} = {size / 2**30:.1f} GiB of float32 "
            f"(written in {time.perf_counter() - started:.0f} s)"
        )
        done = subprocess.run(
            [sys.executable, "-c", RASTER_CHILD, str(REPO), str(path), str(Path(folder) / "s.tif")],
            capture_output=True,
            text=True,
            check=True,
        )
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        n = t * grid.width * grid.height
        print(
            f"scored in {stats['seconds']:.0f} s: {n / stats['seconds']:,.0f} cell·steps/s, peak RSS "
            f"{stats['peak_mb']:.0f} MB "
            f"({stats['peak_mb'] * 2**20 / size:.1%} of the stack)"
        )


if __name__ == "__main__":
    if "--large" in sys.argv:  # a stack larger than a quarter of this machine's memory
        import os

        large_table(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 4)
        sys.exit()
    if "--raster-only" not in sys.argv:
        skill_table()
    raster_table()
