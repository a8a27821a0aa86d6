"""Benchmark: forecasting by location (``forecastbylocation``) — held-out skill and fitting speed.

Run:  .venv/bin/python benchmarks/forecast_by_location.py [--stations N]

Skill: daily PM10 at the German rural-background stations (../shared/data/de_pm10_1998_2007), one forecast origin:
the models see 2007-01-01 … 2007-12-03 only; the last 28 days of 2007 are the test period, never used to fit or to
choose (``best`` chooses per station on the 28 days before it). RMSE at 1, 7 and 28 days ahead and over 1–28
days, pooled over stations, of every method, of the per-station choice, and of seasonal naive (7 days) and the
training mean; coverage of the 90 % intervals on the test days. (2008–2009 of that data set stay unused.)

Speed: fits per second per core of AutoETS and AutoARIMA (statsforecast, as the engine calls them, season 7) on
the stations' 365-step 2007 series, next to statsmodels fitting one fixed model per series (Holt-Winters additive
with a weekly season; SARIMA(1,0,1)(1,0,1,7)) in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.data.time_step import TimeStep  # noqa: E402
from backend.forecast.by_location import CANDIDATES, forecast_locations, forecast_series, location_calendar  # noqa: E402
from benchmarks.kriging import observations_panel  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "de_pm10_1998_2007" / "observations.csv"
DAY = TimeStep(seconds=86400)
TEST_DAYS = 28
LEADS = (1, 7, 28)


def daily_panel():
    """Stations × days of 2007 (float64[N, 365]) and the days."""
    obs = pd.read_csv(DATA, parse_dates=["date"])
    obs = obs[(obs["date"] >= "2007-01-01") & (obs["date"] <= "2007-12-31")]
    panel = observations_panel(obs)
    days = np.arange(np.datetime64("2007-01-01"), np.datetime64("2008-01-01")).astype("datetime64[s]")
    values = np.full((panel.n_stations, days.size), np.nan)
    values[:, np.searchsorted(days, panel.times)] = panel.values
    keep = np.isfinite(values[:, :-TEST_DAYS]).sum(axis=1) >= 200  # stations with most of the year
    return panel.ids[keep], values[keep], days


def rmse_row(name: str, errors: np.ndarray) -> str:
    """errors float[N, 28]: forecast − observed (NaN = not observed)."""
    cells = [np.sqrt(np.nanmean(errors[:, lead - 1] ** 2)) for lead in LEADS] + [np.sqrt(np.nanmean(errors**2))]
    return f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |"


def skill(stations: int | None) -> None:
    ids, values, days = daily_panel()
    if stations:
        ids, values = ids[:stations], values[:stations]
    train, test = values[:, :-TEST_DAYS], values[:, -TEST_DAYS:]
    print(
        f"\n## Skill: {ids.size} stations, fitted on {days[0]:.10} … {days[-TEST_DAYS - 1]:.10}, "
        f"test {days[-TEST_DAYS]:.10} … {days[-1]:.10} ({int(np.isfinite(test).sum())} observed station-days)"
    )
    print("| method | RMSE 1 day | RMSE 7 days | RMSE 28 days | RMSE 1–28 days |")
    print("|---|---|---|---|---|")
    rows, covered = {}, {}
    for method in CANDIDATES:
        started = time.perf_counter()
        result = forecast_locations(train, days[:-TEST_DAYS], DAY, TEST_DAYS, method, 0)
        rows[method] = (result.mean - test, time.perf_counter() - started)
        covered[method] = (test >= result.lower) & (test <= result.upper)
    started = time.perf_counter()
    best = forecast_locations(train, days[:-TEST_DAYS], DAY, TEST_DAYS, "best", TEST_DAYS)
    rows["best per station (chosen on the 28 days before the test)"] = (best.mean - test, time.perf_counter() - started)
    covered["best"] = (test >= best.lower) & (test <= best.upper)
    calendar = location_calendar(days, DAY)
    weekly = np.stack([forecast_series("seasonal_naive", s, TEST_DAYS, 7, 0.9, calendar).mean for s in train])
    mean = np.nanmean(train, axis=1)[:, None] + np.zeros(TEST_DAYS)
    for name, (errors, seconds) in rows.items():
        print(rmse_row(f"{name.replace('_', ' ')} ({seconds:.0f} s)", errors))
    print(rmse_row("seasonal naive, 7 days (baseline)", weekly - test))
    print(rmse_row("training mean (baseline)", mean - test))
    observed = np.isfinite(test)
    print(
        "\nCoverage of the 90 % intervals on the test days: "
        + ", ".join(f"{k.replace('_', ' ')} {covered[k][observed].mean():.3f}" for k in covered)
    )
    print(
        "Methods chosen per station: " + ", ".join(f"{k} {v}" for k, v in pd.Series(best.method).value_counts().items())
    )


def speed(stations: int | None) -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    ids, values, days = daily_panel()
    series = [pd.Series(s).interpolate().bfill().ffill().to_numpy() for s in values][: stations or None]
    calendar = location_calendar(np.concatenate([days, days[-1:] + np.arange(1, 8) * np.timedelta64(1, "D")]), DAY)
    print(f"\n## Speed: {len(series)} daily series of 365 steps, 7-day forecasts, one core")
    print("| model | ours: fits/s | statsmodels: fits/s (one fixed model) | ratio |")
    print("|---|---|---|---|")

    def rate(fit) -> float:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in series:
                fit(s)
        return len(series) / (time.perf_counter() - started)

    ours_ets = rate(lambda s: forecast_series("ets", s, 7, 7, 0.9, calendar))
    sm_ets = rate(lambda s: ExponentialSmoothing(s, trend="add", seasonal="add", seasonal_periods=7).fit().forecast(7))
    print(f"| ETS (AutoETS, season 7) vs Holt-Winters | {ours_ets:.1f} | {sm_ets:.1f} | {ours_ets / sm_ets:.2f} |")
    ours_arima = rate(lambda s: forecast_series("arima", s, 7, 7, 0.9, calendar))
    sm_arima = rate(
        lambda s: SARIMAX(s, order=(1, 0, 1), seasonal_order=(1, 0, 1, 7), trend="c").fit(disp=False).forecast(7)
    )
    print(
        f"| ARIMA (AutoARIMA, season 7) vs SARIMA(1,0,1)(1,0,1,7) | {ours_arima:.1f} | {sm_arima:.1f} | "
        f"{ours_arima / sm_arima:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=0, help="use only the first N stations (0 = all)")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"{DATA} not found: the benchmark needs ../shared/data (see its README).")
        return
    skill(args.stations or None)
    speed(args.stations or None)


if __name__ == "__main__":
    main()
