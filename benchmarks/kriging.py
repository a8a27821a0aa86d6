"""Benchmark: space-time kriging speed vs R gstat krigeST, and leave-one-station-out skill.

Run:  .venv/bin/python benchmarks/kriging.py           (R part needs: apt install r-cran-gstat r-cran-spacetime)
Data: PM10 January 2005 from sample_data/ (speed); ../shared/data/de_pm10_2005 (full-year CV).
Prints tables: time ours vs gstat and vs a plain numpy/scipy implementation of the same rule, as ratios from the
same run, prediction agreement, peak memory, and CV RMSE of space-time kriging vs pure spatial kriging per day.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.data.point_io import PointLayerRef, read_long_points  # noqa: E402
from backend.data.point_panel import PointPanel  # noqa: E402
from backend.kriging.cross_validation import leave_one_station_out, spatial_leave_one_station_out  # noqa: E402
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, krige, observations, time_in_model_units  # noqa: E402
from backend.kriging.st_models import SpaceTimeModel  # noqa: E402
from backend.kriging.workflow import fit_variogram  # noqa: E402

MODEL = json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())["separable"]
NMAX, ST_ANI, DAYS, GRID = 50, 60000.0, 28, 100
R_SCRIPT = r"""
suppressPackageStartupMessages({library(sp); library(spacetime); library(gstat)})
args <- commandArgs(trailingOnly = TRUE); dir <- args[1]
d <- read.csv(file.path(dir, "data.csv")); d$time <- as.POSIXct(d$time, tz = "GMT")
data <- STIDF(SpatialPoints(d[, c("x", "y")]), d$time, data.frame(pm10 = d$pm10))
model <- vgmST("separable", space = vgm(0.85, "Exp", 150000, 0.15), time = vgm(0.8, "Exp", 2.5, 0.2), sill = 150)
attr(model, "temporal unit") <- "days"
for (name in c("points", "grid")) {
  tg <- read.csv(file.path(dir, paste0(name, ".csv"))); tg$time <- as.POSIXct(tg$time, tz = "GMT")
  newdata <- STI(SpatialPoints(tg[, c("x", "y")]), tg$time)
  t0 <- proc.time()[["elapsed"]]
  out <- krigeST(pm10 ~ 1, data, newdata, model, nmax = %(nmax)d, stAni = %(st_ani)f / 86400, computeVar = TRUE,
                 progress = FALSE)
  elapsed <- proc.time()[["elapsed"]] - t0
  write.csv(data.frame(pred = out$var1.pred, var = out$var1.var), file.path(dir, paste0(name, "_r.csv")),
            row.names = FALSE)
  cat(name, elapsed, "\n", file = file.path(dir, "r_times.txt"), append = TRUE)
}
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def january_setup():
    panel = read_long_points(
        PointLayerRef(str(REPO / "sample_data" / "de_pm10_2005q1.gpkg")), "station_id", "date", "pm10"
    )
    keep_t = panel.times < np.datetime64("2005-02-01")
    held = np.arange(panel.n_stations)[::7][:10]
    train = np.setdiff1d(np.arange(panel.n_stations), held)
    data_panel = PointPanel(
        panel.ids[train], panel.xy[train], panel.crs, panel.times[keep_t], panel.values[train][:, keep_t]
    )
    days = panel.times[:DAYS]
    point_xy = np.repeat(panel.xy[held][None], DAYS, axis=0).reshape(-1, 2)
    point_t = np.repeat(days, held.size)
    (x0, y0), (x1, y1) = panel.xy.min(axis=0), panel.xy.max(axis=0)
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    grid_xy = np.tile(np.column_stack([gx.ravel(), gy.ravel()]), (DAYS, 1))
    grid_t = np.repeat(days, GRID * GRID)
    return data_panel, (point_xy, point_t), (grid_xy, grid_t)


def ours(data_panel, xy, t, model, device="numpy", nmax=NMAX, threads=0):
    origin = data_panel.times[0]
    data = observations(data_panel, model, origin)
    started = time.perf_counter()
    pred, var = krige(
        data,
        SpaceTimePoints(xy, time_in_model_units(t, origin, model)),
        model,
        KrigingOptions(nmax=nmax, st_ani=ST_ANI, device=device, threads=threads),
    )
    return pred, var, time.perf_counter() - started


def plain_numpy(data_panel, xy, t, model, nmax=NMAX, batch=2048):
    """The same kriging written plainly with numpy/scipy (the reference for speed): cKDTree candidates (2·nmax, all
    cores), the nmax of largest covariance, the bordered ordinary-kriging systems solved with stacked
    ``numpy.linalg.solve``; all data: ``cho_factor`` once and ``cho_solve`` per batch."""
    from scipy.linalg import cho_factor, cho_solve
    from scipy.spatial import cKDTree

    origin = data_panel.times[0]
    data = observations(data_panel, model, origin)
    target_t = time_in_model_units(t, origin, model)
    target_xy = xy / model.distance_scale()
    started = time.perf_counter()
    c0 = model.total_sill

    def cov(axy, at, bxy, bt):
        return model.covariance(
            np.sqrt(((axy[..., :, None, :] - bxy[..., None, :, :]) ** 2).sum(-1)),
            np.abs(at[..., :, None] - bt[..., None, :]),
        )

    pred, var = np.empty(target_t.size), np.empty(target_t.size)
    if nmax is None:
        n = data.t.size
        factor = cho_factor(cov(data.xy, data.t, data.xy, data.t), lower=True)
        ones = np.ones(n)
        b = cho_solve(factor, ones)
        beta = b @ data.z / (ones @ b)
        residual = cho_solve(factor, data.z - beta)
        for s in range(0, target_t.size, batch):
            v0 = cov(data.xy, data.t, target_xy[s : s + batch], target_t[s : s + batch])
            a = cho_solve(factor, v0)
            q = 1.0 - a.sum(axis=0)
            pred[s : s + batch] = beta + v0.T @ residual
            var[s : s + batch] = c0 - (v0 * a).sum(axis=0) + q * q / (ones @ b)
        return pred, var, time.perf_counter() - started
    tree = cKDTree(np.column_stack([data.xy, ST_ANI * data.t]))
    for s in range(0, target_t.size, batch):
        txy, tt = target_xy[s : s + batch], target_t[s : s + batch]
        _, cand = tree.query(np.column_stack([txy, ST_ANI * tt]), k=2 * nmax, workers=-1)
        cand = np.sort(cand, axis=1)  # ties in covariance go to the lower data index, as gstat
        c = model.covariance(np.sqrt(((data.xy[cand] - txy[:, None]) ** 2).sum(-1)), np.abs(data.t[cand] - tt[:, None]))
        keep = np.argsort(-c, axis=1, kind="stable")[:, :nmax]
        idx, v0 = np.take_along_axis(cand, keep, axis=1), np.take_along_axis(c, keep, axis=1)
        system = np.ones((idx.shape[0], nmax + 1, nmax + 1))
        system[:, :nmax, :nmax] = cov(data.xy[idx], data.t[idx], data.xy[idx], data.t[idx])
        system[:, nmax, nmax] = 0.0
        rhs = np.concatenate([v0, np.ones((idx.shape[0], 1))], axis=1)
        w = np.linalg.solve(system, rhs[..., None])[..., 0]
        pred[s : s + batch] = (w[:, :nmax] * data.z[idx]).sum(axis=1)
        var[s : s + batch] = c0 - (w * rhs).sum(axis=1)
    return pred, var, time.perf_counter() - started


def gstat(data_panel, targets: dict[str, tuple], r_grid_days: int):
    if shutil.which("Rscript") is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="st_bench_"))
    frame = data_panel.to_long_frame()
    index = {s: i for i, s in enumerate(data_panel.ids)}
    rows = frame["station_id"].map(index).to_numpy()
    pd.DataFrame(
        {
            "x": data_panel.xy[rows, 0],
            "y": data_panel.xy[rows, 1],
            "time": pd.to_datetime(frame["time"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "pm10": frame["value"],
        }
    ).to_csv(folder / "data.csv", index=False)
    for name, (xy, t) in targets.items():
        pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "time": pd.to_datetime(t).strftime("%Y-%m-%d %H:%M:%S")}).to_csv(
            folder / f"{name}.csv", index=False
        )
    (folder / "bench.R").write_text(R_SCRIPT % {"nmax": NMAX, "st_ani": ST_ANI})
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    done = subprocess.run([*timer, "Rscript", str(folder / "bench.R"), str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        print("R failed:", done.stderr[-1500:])
        return None
    seconds = dict(line.split() for line in (folder / "r_times.txt").read_text().splitlines())
    peak = next(
        (float(line.split(":")[1]) / 1024 for line in done.stderr.splitlines() if "Maximum resident set size" in line),
        float("nan"),
    )
    results = {name: pd.read_csv(folder / f"{name}_r.csv") for name in targets}
    return {name: (results[name], float(seconds[name])) for name in targets}, peak


def speed_table() -> None:
    model = SpaceTimeModel.from_dict(MODEL)
    data_panel, points, grid = january_setup()
    r_grid_days = 1
    grid_subset = (grid[0][: GRID * GRID * r_grid_days], grid[1][: GRID * GRID * r_grid_days])
    p_pred, p_var, p_sec = ours(data_panel, *points, model)
    g_pred, g_var, g_sec = ours(data_panel, *grid, model)
    s_pred, s_var, s_sec = ours(data_panel, *grid_subset, model)
    print(f"\n## Speed: separable model, nmax {NMAX}, PM10 January 2005, {data_panel.n_stations} training stations")
    print(f"peak memory of this Python process (ours, all runs): {peak_rss_mb():.0f} MB")
    r = gstat(data_panel, {"points": points, "grid": grid_subset}, r_grid_days)
    rows = [
        ("10 held-out stations × 28 days", p_pred.size, p_sec, "points", p_pred, p_var),
        (f"grid {GRID}×{GRID} × {r_grid_days} day (gstat subset)", s_pred.size, s_sec, "grid", s_pred, s_var),
        (f"grid {GRID}×{GRID} × {DAYS} days", g_pred.size, g_sec, None, None, None),
    ]
    print("| case | predictions | ours (s) | gstat (s) | gstat / ours | max rel. diff pred | max rel. diff var |")
    print("|---|---|---|---|---|---|---|")
    for label, n, sec, key, pred, var in rows:
        if r is not None and key is not None:
            (frame, r_sec) = r[0][key]
            diff_p = float(np.max(np.abs(pred - frame["pred"]) / np.abs(frame["pred"])))
            diff_v = float(np.max(np.abs(var - frame["var"]) / np.abs(frame["var"])))
            print(f"| {label} | {n} | {sec:.2f} | {r_sec:.2f} | {r_sec / sec:.0f}× | {diff_p:.1e} | {diff_v:.1e} |")
        elif r is not None:
            rate = r[0]["grid"][1] / s_pred.size
            print(
                f"| {label} | {n} | {sec:.2f} | ≈{rate * n:.0f} (rate of the subset) | ≈{rate * n / sec:.0f}× | – | – |"
            )
        else:
            print(f"| {label} | {n} | {sec:.2f} | (R not installed) | – | – | – |")
    if r is not None:
        print(f"gstat peak memory (Rscript, max RSS): {r[1]:.0f} MB")


def numpy_table() -> None:
    """Ours (all cores, and one thread) vs the plain numpy/scipy implementation of the same rule, same run."""
    model = SpaceTimeModel.from_dict(MODEL)
    data_panel, _, grid = january_setup()
    print(f"\n## Speed vs plain numpy/scipy: grid {GRID}×{GRID} × {DAYS} days, separable model, same run")
    print(
        "| neighbourhood | ours, all cores (s) | ours, 1 thread (s) | plain numpy (s) | plain / ours | max rel. diff |"
    )
    print("|---|---|---|---|---|---|")
    for nmax in (NMAX, None):
        pred, _, sec = ours(data_panel, *grid, model, nmax=nmax)
        _, _, sec_one = ours(data_panel, *grid, model, nmax=nmax, threads=1)
        ref, _, ref_sec = plain_numpy(data_panel, *grid, model, nmax=nmax)
        diff = float(np.max(np.abs(pred - ref) / np.abs(ref)))
        label = f"nmax {nmax}" if nmax else "all data"
        print(f"| {label} | {sec:.1f} | {sec_one:.1f} | {ref_sec:.1f} | {ref_sec / sec:.2f}× | {diff:.1e} |")


def observations_panel(obs: pd.DataFrame) -> PointPanel:
    """The station × day panel of a shared PM10 ``observations.csv`` (station_id, x, y in EPSG:32632, date, pm10)."""
    ids = np.unique(obs["station_id"])
    times = np.unique(obs["date"]).astype("datetime64[s]")
    values = np.full((ids.size, times.size), np.nan, np.float32)
    values[
        np.searchsorted(ids, obs["station_id"]), np.searchsorted(times, obs["date"].to_numpy().astype("datetime64[s]"))
    ] = obs["pm10"]
    xy = obs.groupby("station_id")[["x", "y"]].first().loc[ids].to_numpy()
    return PointPanel(ids, xy, "EPSG:32632", times, values)


def skill_table() -> None:
    csv = REPO.parent / "shared" / "data" / "de_pm10_2005" / "observations.csv"
    if not csv.exists():
        print(f"\n(skill: {csv} not found, skipped)")
        return
    panel = observations_panel(pd.read_csv(csv))
    print(
        f"\n## Skill: leave-one-station-out CV, DE PM10 2005 ({panel.n_stations} stations, "
        f"{int(np.isfinite(panel.values).sum())} "
        f"station-days), nmax {NMAX}; models fitted to the 2005 sample variogram (cutoff 300 km, 20 km bins, 6 lags)"
    )
    print("| method | fit MSE | RMSE | MAE | bias | cor | mean z² | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    fit = fit_variogram(panel, "best", cutoff=300000.0, width=20000.0, tlags=6)
    for result in sorted(fit.all_fits, key=lambda f: f.mse):
        started = time.perf_counter()
        cv = leave_one_station_out(panel, result.model, KrigingOptions(nmax=NMAX))
        m = cv.metrics
        print(
            f"| space-time {result.model.stModel} | {result.mse:.2f} | {m['rmse']:.3f} | {m['mae']:.3f} | "
            f"{m['bias']:.3f} | {m['cor']:.3f} | {m['mean_z2']:.2f} | {time.perf_counter() - started:.1f} |"
        )
    spatial_fit = fit_variogram(panel, "metric", cutoff=300000.0, width=20000.0, tlags=0)
    started = time.perf_counter()
    cv = spatial_leave_one_station_out(panel, spatial_fit.best.model.joint, NMAX)
    m = cv.metrics
    print(
        f"| pure spatial kriging per day | {spatial_fit.best.mse:.2f} | {m['rmse']:.3f} | {m['mae']:.3f} | "
        f"{m['bias']:.3f} | {m['cor']:.3f} | {m['mean_z2']:.2f} | {time.perf_counter() - started:.1f} |"
    )


if __name__ == "__main__":
    numpy_table()
    speed_table()
    skill_table()
