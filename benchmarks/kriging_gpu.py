"""GPU check for space-time kriging: torch (CUDA) solves vs numpy, same predictions, timings.

The GPU machine needs torch with CUDA but no GDAL stack, so the PM10 panels travel as an .npz:
    .venv/bin/python benchmarks/kriging_gpu.py --export .devdata/pm10.npz    (here, with ../shared/data)
    python3 benchmarks/kriging_gpu.py .devdata/pm10.npz                     (on the GPU machine)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.data.point_panel import PointPanel  # noqa: E402
from backend.kriging.cross_validation import leave_one_station_out  # noqa: E402
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, krige, observations  # noqa: E402
from backend.kriging.st_models import SpaceTimeModel  # noqa: E402

MODEL = SpaceTimeModel.from_dict(
    json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())["separable"]
)


def panel(data, prefix):
    return PointPanel(
        data[f"{prefix}_ids"], data[f"{prefix}_xy"], "EPSG:32632", data[f"{prefix}_times"], data[f"{prefix}_values"]
    )


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - started


def main(path: str) -> None:
    import torch

    data = np.load(path, allow_pickle=False)
    january = panel(data, "q")
    keep = january.times < np.datetime64("2005-02-01")
    january = PointPanel(january.ids, january.xy, january.crs, january.times[keep], january.values[:, keep])
    obs = observations(january, MODEL, january.times[0])
    (x0, y0), (x1, y1) = january.xy.min(axis=0), january.xy.max(axis=0)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 100), np.linspace(y0, y1, 100))
    xy = np.tile(np.column_stack([gx.ravel(), gy.ravel()]), (28, 1))
    t = np.repeat(np.arange(28, dtype=float), 10000)
    targets = SpaceTimePoints(xy, t)
    print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0))
    print("| run | device | predictions | seconds | max rel. diff pred vs numpy | max rel. diff var |")
    print("|---|---|---|---|---|---|")
    (p_np, v_np), s_np = timed(krige, obs, targets, MODEL, KrigingOptions(nmax=50, st_ani=60000))
    print(f"| grid 100×100×28 | numpy | {t.size} | {s_np:.2f} | – | – |")
    for device, batch in (("cuda", 2048), ("cuda", 16384), ("cpu", 2048)):
        krige(obs, SpaceTimePoints(xy[:100], t[:100]), MODEL, KrigingOptions(nmax=50, st_ani=60000, device=device))
        (p, v), s = timed(
            krige, obs, targets, MODEL, KrigingOptions(nmax=50, st_ani=60000, device=device, batch_size=batch)
        )
        print(
            f"| grid 100×100×28 (batch {batch}) | torch {device} | {t.size} | {s:.2f} | "
            f"{np.max(np.abs(p - p_np) / np.abs(p_np)):.1e} | {np.max(np.abs(v - v_np) / np.abs(v_np)):.1e} |"
        )
    year = panel(data, "y")
    cv_np, s_np = timed(leave_one_station_out, year, MODEL, KrigingOptions(nmax=50, st_ani=60000))
    cv_gpu, s_gpu = timed(leave_one_station_out, year, MODEL, KrigingOptions(nmax=50, st_ani=60000, device="cuda"))
    print(f"| LOSO CV 2005 | numpy | {cv_np.metrics['n']} | {s_np:.2f} | – | – |")
    diff = np.max(np.abs(cv_gpu.residuals["predicted"] - cv_np.residuals["predicted"]))
    print(
        f"| LOSO CV 2005 | torch cuda | {cv_gpu.metrics['n']} | {s_gpu:.2f} | max abs diff {diff:.1e} | "
        f"RMSE {cv_gpu.metrics['rmse']:.4f} vs {cv_np.metrics['rmse']:.4f} |"
    )


def export(path: str) -> None:
    """Write the PM10 sample (Q1 2005) and the full 2005 panel to one .npz."""
    import pandas as pd

    from backend.data.point_io import PointLayerRef, read_long_points

    q1 = read_long_points(
        PointLayerRef(str(REPO / "sample_data" / "de_pm10_2005q1.gpkg")), "station_id", "date", "pm10"
    )
    obs = pd.read_csv(REPO.parent / "shared" / "data" / "de_pm10_2005" / "observations.csv")
    ids, times = np.unique(obs["station_id"]).astype(str), np.unique(obs["date"]).astype("datetime64[s]")
    values = np.full((ids.size, times.size), np.nan, np.float32)
    values[
        np.searchsorted(ids, obs["station_id"]), np.searchsorted(times, obs["date"].to_numpy().astype("datetime64[s]"))
    ] = obs["pm10"]
    xy = obs.groupby("station_id")[["x", "y"]].first().loc[ids].to_numpy()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        q_ids=q1.ids,
        q_xy=q1.xy,
        q_times=q1.times,
        q_values=q1.values,
        y_ids=ids,
        y_xy=xy,
        y_times=times,
        y_values=values,
    )


if __name__ == "__main__":
    export(sys.argv[2]) if sys.argv[1] == "--export" else main(sys.argv[1])
