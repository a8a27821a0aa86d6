"""Benchmark: the automatic kriging model choice on held-out stations, against every fixed candidate.

Run:  .venv/bin/python benchmarks/kriging_choice.py [--months 1,2,...]
Data: ../shared/data/de_pm10_2005 (2005) and ../shared/data/de_pm10_1998_2007 (2003; the README's held-out years
2008–2009 are not in the file and never used).

For each month: every 7th station (of those with data that month, in id order) is held out; the model, the
neighbourhood size and the choice among pure spatial kriging per day and the space-time models are made by
leave-one-station-out CV on the other stations only (``model_for`` with NMAX 0, as ``stkriging`` without a model
file); then the held-out stations' days are predicted from the training stations. The fixed candidates use the same
training fit: each space-time model with 50 neighbours and spatial kriging per day with 50. Prints per year the pooled
held-out RMSE of each method and in how many months the automatic choice was at most the better of the best fixed
space-time model and spatial kriging per day.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.data.point_panel import PointPanel  # noqa: E402
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, krige, observations  # noqa: E402
from backend.kriging.model_choice import SPATIAL  # noqa: E402
from backend.kriging.workflow import fit_variogram  # noqa: E402
from benchmarks.kriging import observations_panel  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
CASES = {
    "DE PM10 2005": (SHARED / "de_pm10_2005" / "observations.csv", 2005),
    "DE PM10 2003": (SHARED / "de_pm10_1998_2007" / "observations.csv", 2003),
}


def read_panel(csv: Path, year: int, month: int) -> PointPanel:
    obs = pd.read_csv(csv)
    dates = pd.to_datetime(obs["date"])
    return observations_panel(obs[(dates.dt.year == year) & (dates.dt.month == month) & obs["pm10"].notna()])


def subset(panel: PointPanel, rows: np.ndarray) -> PointPanel:
    return PointPanel(panel.ids[rows], panel.xy[rows], panel.crs, panel.times, panel.values[rows])


def held_out_errors(train: PointPanel, held: PointPanel, model, nmax) -> np.ndarray:
    """Prediction − observation at every observed held-out station-day, kriged from the training stations."""
    origin = train.times[0]
    data = observations(train, model, origin)
    target = observations(held, model, origin)
    pred, _ = krige(data, SpaceTimePoints(target.xy, target.t), model, KrigingOptions(nmax=nmax))
    return pred - target.z


def month_case(csv: Path, year: int, month: int) -> dict[str, np.ndarray]:
    panel = read_panel(csv, year, month)
    held_rows = np.arange(panel.n_stations)[::7]
    train, held = subset(panel, np.setdiff1d(np.arange(panel.n_stations), held_rows)), subset(panel, held_rows)
    fit = fit_variogram(train, model="best_cv")  # what stkriging does without a model file, NMAX 0
    choice = fit.choice
    errors = {"automatic": held_out_errors(train, held, choice.best.model, choice.best.nmax)}
    spatial = next(c.model for c in choice.candidates if c.name == SPATIAL)
    for f in fit.all_fits:
        errors[f"{f.model.stModel}, nmax 50"] = held_out_errors(train, held, f.model, 50)
    errors[f"{SPATIAL}, nmax 50"] = held_out_errors(train, held, spatial, 50)
    errors["_chosen"] = choice.best.label
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default=",".join(str(m) for m in range(1, 13)))
    months = [int(m) for m in parser.parse_args().months.split(",")]
    for name, (csv, year) in CASES.items():
        if not csv.exists():
            print(f"({name}: {csv} not found, skipped)")
            continue
        pooled: dict[str, list] = {}
        wins, rows = 0, []
        started = time.perf_counter()
        for month in months:
            errors = month_case(csv, year, month)
            chosen = errors.pop("_chosen")
            rmse = {k: float(np.sqrt(np.nanmean(v**2))) for k, v in errors.items()}
            fixed_st = min(v for k, v in rmse.items() if k != "automatic" and not k.startswith(SPATIAL))
            simple = min(fixed_st, rmse[f"{SPATIAL}, nmax 50"])
            wins += rmse["automatic"] <= simple + 1e-12
            rows.append(
                f"| {year}-{month:02d} | {chosen} | {rmse['automatic']:.3f} | {fixed_st:.3f} | "
                f"{rmse[f'{SPATIAL}, nmax 50']:.3f} |"
            )
            for k, v in errors.items():
                pooled.setdefault(k, []).append(v)
        print(
            f"\n## {name}: held-out stations (every 7th), model chosen on the others, by month "
            f"({time.perf_counter() - started:.0f} s)"
        )
        print("| month | automatic choice | RMSE automatic | best fixed space-time (nmax 50) | spatial per day |")
        print("|---|---|---|---|---|")
        print("\n".join(rows))
        print(f"\nautomatic ≤ min(best fixed space-time, spatial per day) in {wins} of {len(months)} months")
        print("\n| method | pooled held-out RMSE |\n|---|---|")
        for k, v in sorted(pooled.items(), key=lambda kv: np.sqrt(np.nanmean(np.concatenate(kv[1]) ** 2))):
            print(f"| {k} | {np.sqrt(np.nanmean(np.concatenate(v) ** 2)):.3f} |")


if __name__ == "__main__":
    main()
