"""Forecasting by location: season detection, every method, the choice by validation error, gaps, the command."""

import sys

import numpy as np
import pandas as pd
import pytest

from backend.data.time_step import TimeStep

pytest.importorskip("statsforecast", reason="forecastbylocation needs statsforecast (installed by make setup)")

from backend.forecast import by_location  # noqa: E402
from backend.forecast.by_location import (  # noqa: E402
    CANDIDATES,
    choose_methods,
    detect_season,
    filled_series,
    forecast_locations,
    forecast_series,
)

DAY = TimeStep(seconds=86400)


def daily_times(n: int, start: str = "2020-01-06") -> np.ndarray:
    return np.datetime64(start, "s") + np.arange(n) * np.timedelta64(1, "D")


def weekly_series(n: int, seed: int, noise: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 7) + noise * rng.standard_normal(n)


def test_season_detection_finds_the_week_and_nothing_in_noise():
    assert detect_season(weekly_series(120, 0), DAY) == 7
    assert detect_season(np.random.default_rng(1).standard_normal(120), DAY) == 1
    monthly = 10 + 3 * np.cos(2 * np.pi * np.arange(60) / 12) + 0.3 * np.random.default_rng(2).standard_normal(60)
    assert detect_season(monthly, TimeStep(months=1)) == 12
    assert detect_season(np.full(50, 3.0), DAY) == 1  # constant


def test_filled_series_interpolates_inside_and_counts_the_trailing_gap():
    y, first, trailing = filled_series(np.array([np.nan, 1.0, np.nan, 3.0, np.nan, np.nan]))
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0])
    assert (first, trailing) == (1, 2)


@pytest.mark.parametrize("method", CANDIDATES)
def test_every_method_forecasts_a_weekly_series_with_ordered_bounds(method):
    n, h = 140, 14
    values = weekly_series(n + h, 3)
    calendar = by_location.location_calendar(daily_times(n + h), DAY)
    forecast = forecast_series(method, values[:n], h, 7, 0.9, calendar)
    assert forecast.mean.shape == forecast.lower.shape == forecast.upper.shape == (h,)
    assert (forecast.lower <= forecast.mean + 1e-9).all() and (forecast.mean <= forecast.upper + 1e-9).all()
    rmse = np.sqrt(np.mean((forecast.mean - values[n:]) ** 2))
    flat = np.sqrt(np.mean((values[:n].mean() - values[n:]) ** 2))  # the series' mean: no season, ≈ 3.6
    if method == "curve":
        assert rmse < 1.3 * flat  # a trend curve cannot follow the week: about the mean
    else:
        assert rmse < 0.5 * flat, (method, rmse, flat)


def test_arima_is_statsforecasts_auto_arima_with_rs_defaults():
    """A year of days: orders searched on conditional sums of squares, the best re-fitted by likelihood, as R's
    forecast::auto.arima does for series over 150 steps (statsforecast's class defaults to no approximation)."""
    from statsforecast.arima import auto_arima_f, forecast_arima

    y = weekly_series(365, 6, noise=2.0) + np.cumsum(np.random.default_rng(7).standard_normal(365)) * 0.3
    ours = forecast_series("arima", y, 7, 7, 0.9, np.zeros((372, 1)))
    reference = forecast_arima(auto_arima_f(y, period=7), h=7, level=(90,))
    np.testing.assert_allclose(ours.mean, reference["mean"], rtol=1e-10)
    np.testing.assert_allclose(ours.upper, np.asarray(reference["upper"]).ravel(), rtol=1e-10)
    exact = forecast_arima(auto_arima_f(y, period=7, approximation=False), h=7, level=(90,))
    assert np.abs(ours.mean - exact["mean"]).max() > 0.1  # this series: the approximated search picks another order


def test_curve_fit_follows_a_trend_that_the_seasonal_naive_misses():
    n, h = 100, 10
    t = np.arange(n + h)
    values = 5 + 0.3 * t + 0.2 * np.random.default_rng(4).standard_normal(n + h)
    calendar = by_location.location_calendar(daily_times(n + h), DAY)
    curve = forecast_series("curve", values[:n], h, 1, 0.9, calendar)
    naive = forecast_series("seasonal_naive", values[:n], h, 1, 0.9, calendar)
    assert curve.detail in ("linear", "parabolic")
    assert np.abs(curve.mean - values[n:]).max() < 1.0 < np.abs(naive.mean - values[n:]).max()


def test_best_uses_the_pooled_best_method_unless_a_location_is_clearly_better_with_its_own():
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1.0, (10, 28))
    errors = {  # arima: best pooled over the five locations, far off at location 4
        "arima": np.stack([noise[0], noise[1], noise[2], noise[3], 2 + noise[4]]),
        "ets": np.stack([1.5 * noise[5], 1.5 * noise[6], 1.5 * noise[7], 0.95 * noise[8], noise[9]]),
        "curve": np.full((5, 28), np.nan),  # failed everywhere
    }
    order = choose_methods(errors, ("arima", "ets", "curve"))
    # location 3: ets a little better by chance (within one SE): arima; location 4: ets clearly better
    assert [o[0] for o in order] == ["arima", "arima", "arima", "arima", "ets"]
    assert order[0] == ["arima", "ets"]  # the rest by the location's own error; failed methods left out


def test_best_forecasts_every_location_with_the_chosen_method_and_covers_its_interval():
    n, v = 150, 14
    rng = np.random.default_rng(5)
    trend = 5 + 0.3 * np.arange(n) + 0.3 * rng.standard_normal(n)
    values = np.stack([weekly_series(n, 6), trend, weekly_series(n, 7, noise=1.0), np.full(n, np.nan)])
    values[3, -6:] = 1.0  # too short to fit
    result = forecast_locations(values, daily_times(n), DAY, 7, "best", v, workers=1)
    order = choose_methods(result.validation_errors, CANDIDATES)
    for i in range(3):
        assert result.method[i] == order[i][0] and np.isfinite(result.mean[i]).all()
    assert result.method[3] == "" and np.isnan(result.mean[3]).all()
    assert result.method[1] != "seasonal_naive"  # not on a trend
    coverage = np.nanmean(result.validation_covered[:3])
    assert 0.6 <= coverage <= 1.0
    assert result.season_length[0] == 7 and result.season_length[1] == 1


def test_a_series_that_ends_early_is_forecast_from_its_end_over_its_gap():
    n, h = 120, 5
    series = weekly_series(n, 8)
    cut = series.copy()
    cut[-3:] = np.nan
    result = forecast_locations(cut[None], daily_times(n), DAY, h, "ets", 0, season_length=7, workers=1)
    calendar = by_location.location_calendar(daily_times(n + h), DAY)
    own = forecast_series("ets", series[: n - 3], h + 3, 7, 0.9, calendar[: n + h])
    np.testing.assert_allclose(result.mean[0], own.mean[3:], rtol=1e-12)


def test_processes_give_the_same_forecasts_as_one_process():
    n = 90
    values = np.stack([weekly_series(n, s) for s in range(34)])
    one = forecast_locations(values, daily_times(n), DAY, 3, "best", 7, workers=1)
    two = forecast_locations(values, daily_times(n), DAY, 3, "best", 7, workers=2)
    np.testing.assert_array_equal(one.mean, two.mean)
    np.testing.assert_array_equal(one.method, two.method)


def _process_id(_job) -> int:
    import os

    return os.getpid()


def test_locations_go_to_worker_processes_only_from_the_main_thread():
    """A chunk thread (or a dask worker's task thread) fits its own cells: a process pool started there (a fork
    beside other running threads) could hang for ever on a lock copied mid-use."""
    import os
    import threading

    jobs = list(range(4 * by_location.PROCESS_MIN_LOCATIONS))
    assert set(by_location._map_locations(_process_id, jobs, 2)) - {os.getpid()}  # main thread: worker processes
    seen = []
    thread = threading.Thread(target=lambda: seen.extend(by_location._map_locations(_process_id, jobs, 2)))
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and set(seen) == {os.getpid()}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and fork server are Linux start methods")
def test_worker_processes_start_from_a_fork_server_while_other_threads_run():
    import os
    import threading

    running = threading.Event()
    other = threading.Thread(target=running.wait, daemon=True)
    other.start()
    try:
        assert by_location._process_context().get_start_method() == "forkserver"
        jobs = list(range(4 * by_location.PROCESS_MIN_LOCATIONS))
        assert set(by_location._map_locations(_process_id, jobs, 2)) - {os.getpid()}
    finally:
        running.set()
        other.join()


def test_a_failing_method_is_replaced_by_the_next_and_counted(monkeypatch):
    def broken(*args):
        raise RuntimeError("no fit")

    monkeypatch.setitem(by_location.FITTERS, "arima", broken)
    n = 80
    result = forecast_locations(weekly_series(n, 9)[None], daily_times(n), DAY, 3, "arima", 0, workers=1)
    assert result.method[0] == "seasonal_naive" and result.failures["arima"] == 1
    assert np.isfinite(result.mean).all()


def test_bad_settings_are_refused_with_what_to_do():
    from backend.errors import UserInputError

    values = weekly_series(30, 0)[None]
    with pytest.raises(UserInputError, match="VALIDATION_STEPS of at least 1"):
        forecast_locations(values, daily_times(30), DAY, 3, "best", 0)
    with pytest.raises(UserInputError, match="Use fewer VALIDATION_STEPS"):
        forecast_locations(values, daily_times(30), DAY, 3, "best", 25)
    with pytest.raises(UserInputError, match="Unknown method"):
        forecast_locations(values, daily_times(30), DAY, 3, "prophet", 5)


def test_command_on_monthly_points_and_the_same_series_as_a_raster_stack(tmp_path):
    """Points: one row per station and step with calendar-month times; a stack holding the same series per cell
    gives the same forecasts and evaluation bands."""
    import geopandas as gpd
    import rasterio

    from backend.commands import run_command
    from backend.data.raster_io import write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    months = pd.date_range("2015-01-01", periods=72, freq="MS").to_numpy().astype("datetime64[s]")
    rng = np.random.default_rng(10)
    series = np.stack(
        [50 + 10 * np.cos(2 * np.pi * np.arange(72) / 12) + k + rng.standard_normal(72) for k in range(4)]
    )
    rows = [
        {"station_id": f"S{k}", "date": str(months[t])[:10], "value": float(series[k, t]), "x": 1000.0 * k, "y": 0.0}
        for k in range(4)
        for t in range(72)
    ]
    table = pd.DataFrame(rows)
    layer = tmp_path / "monthly.gpkg"
    gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.x, table.y), crs="EPSG:3035").to_file(layer)
    settings = {"method": "best", "horizon": 3, "validation_steps": 6}
    points = run_command(
        "forecastbylocation",
        {
            "source": {
                "points": {"path": str(layer), "id_field": "station_id", "time_field": "date", "value_field": "value"}
            },
            "output": str(tmp_path / "forecast.csv"),
            "output_evaluation": str(tmp_path / "evaluation.csv"),
            "output_report": str(tmp_path / "report.html"),
            "settings": settings,
        },
    )
    forecasts = pd.read_csv(tmp_path / "forecast.csv")
    assert list(forecasts.columns[:7]) == ["station_id", "time", "step", "forecast", "lower", "upper", "method"]
    assert len(forecasts) == 12 and points.summary["times"][0].startswith("2021-01-01")
    assert set(forecasts["time"].str[:10]) == {"2021-01-01", "2021-02-01", "2021-03-01"}
    evaluation = pd.read_csv(tmp_path / "evaluation.csv")
    assert {"rmse_arima", "rmse_ets", "rmse_curve", "rmse_forest", "rmse_seasonal_naive", "method"} <= set(evaluation)
    assert (evaluation["season_length"] == 12).all()
    assert "Validation" in (tmp_path / "report.html").read_text()

    stack = tmp_path / "stack.tif"
    grid = GridSpec(4, 1, rasterio.Affine(1000, 0, 0, 0, -1000, 1000), "EPSG:3035")
    write_stack(RasterStack(series.T.reshape(72, 1, 4).astype(np.float32), months, grid), stack)
    raster = run_command(
        "forecastbylocation",
        {
            "source": {"raster": str(stack)},
            "output": str(tmp_path / "forecast.tif"),
            "output_evaluation": str(tmp_path / "evaluation.tif"),
            "settings": settings,
        },
    )
    with rasterio.open(tmp_path / "forecast.tif") as out, rasterio.open(tmp_path / "evaluation.tif") as ev:
        assert out.count == 3 and out.descriptions[0].startswith("2021-01-01")
        by_station = forecasts.pivot(index="step", columns="station_id", values="forecast").to_numpy()
        np.testing.assert_allclose(out.read()[:, 0, :], by_station, rtol=1e-5)
        assert "method" in ev.descriptions[raster.summary["evaluation_bands"].index("method")]


def test_evaluateforecasts_keeps_each_stations_best_forecast_on_the_held_out_week(tmp_path):
    import geopandas as gpd

    from backend.commands import run_command
    from tests.paths import SAMPLE

    sample = gpd.read_file(SAMPLE / "de_pm10_2005q1.gpkg")
    history = tmp_path / "until_0324.gpkg"
    sample[sample["date"].astype(str) <= "2005-03-24"].to_file(history)
    fields = {"id_field": "station_id", "time_field": "date", "value_field": "pm10"}
    paths = []
    for method in ("ets", "seasonal_naive"):
        paths.append(str(tmp_path / f"{method}.gpkg"))
        run_command(
            "forecastbylocation",
            {
                "source": {"points": {"path": str(history), **fields}},
                "output": paths[-1],
                "settings": {"method": method, "horizon": 7, "validation_steps": 0, "season_length": 7},
            },
        )
    result = run_command(
        "evaluateforecasts",
        {
            "forecasts": paths,
            "observed": {"points": {"path": str(SAMPLE / "de_pm10_2005q1.gpkg"), **fields}},
            "output": str(tmp_path / "best.gpkg"),
            "output_evaluation": str(tmp_path / "evaluation.csv"),
        },
    )
    evaluation = pd.read_csv(tmp_path / "evaluation.csv")
    observed = sample.assign(time=pd.to_datetime(sample["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for method in ("ets", "seasonal_naive"):  # the RMSE over the held-out week, recomputed by hand
        forecast = gpd.read_file(tmp_path / f"{method}.gpkg").merge(observed, on=["station_id", "time"])
        by_hand = forecast.groupby("station_id").apply(lambda g: np.sqrt(np.mean((g["forecast"] - g["pm10"]) ** 2)))
        ours = evaluation.set_index("station_id")[f"rmse_{method}"].loc[by_hand.index]
        np.testing.assert_allclose(ours.to_numpy(), by_hand.to_numpy(), rtol=1e-6)  # panels hold float32
    better = np.where(evaluation["rmse_seasonal_naive"] < evaluation["rmse_ets"], "seasonal_naive", "ets")
    assert (evaluation["best"].to_numpy() == better).all()
    best = gpd.read_file(tmp_path / "best.gpkg")
    assert len(best) == 68 * 7 and set(best["source"]) <= {"ets", "seasonal_naive"}
    assert sum(result.summary["best_counts"].values()) == 68


def test_evaluateforecasts_of_raster_stacks_picks_per_cell(tmp_path):
    import rasterio

    from backend.commands import run_command
    from backend.data.raster_io import write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    grid = GridSpec(3, 2, rasterio.Affine(1000, 0, 0, 0, -1000, 2000), "EPSG:3035")
    times = daily_times(4)
    truth = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    good_left, good_right = truth.copy(), truth.copy()
    good_left[:, :, 1:] += 5  # right cells off
    good_right[:, :, :1] += 5  # left cells off
    paths = []
    for name, values in (("observed", truth), ("left", good_left), ("right", good_right)):
        paths.append(str(tmp_path / f"{name}.tif"))
        write_stack(RasterStack(values, times, grid), paths[-1])
    run_command(
        "evaluateforecasts",
        {
            "forecasts": paths[1:],
            "observed": {"raster": paths[0]},
            "output": str(tmp_path / "best.tif"),
            "output_evaluation": str(tmp_path / "evaluation.tif"),
        },
    )
    with rasterio.open(tmp_path / "best.tif") as best, rasterio.open(tmp_path / "evaluation.tif") as evaluation:
        np.testing.assert_array_equal(best.read(), truth)
        np.testing.assert_array_equal(evaluation.read(3), [[1, 2, 2], [1, 2, 2]])


def test_evaluateforecasts_of_stacks_window_by_window_equals_one_window(tmp_path, monkeypatch):
    """Stacks beyond memory are compared in windows; the merged stack and the scores do not depend on them."""
    import rasterio

    from backend.commands import evaluate_forecasts, run_command
    from backend.data.raster_io import write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    grid = GridSpec(23, 17, rasterio.Affine(1000, 0, 0, 0, -1000, 20000), "EPSG:3035")
    rng = np.random.default_rng(4)
    truth = rng.normal(size=(6, 17, 23)).astype(np.float32)
    truth[2, 3, 4] = np.nan  # one unobserved step
    paths = [str(tmp_path / "observed.tif")]
    write_stack(RasterStack(truth, daily_times(6), grid), paths[0])
    for s in range(3):  # forecasts of the last 4 days, each good somewhere else
        paths.append(str(tmp_path / f"forecast{s}.tif"))
        noise = rng.normal(scale=0.2 + s * np.linspace(0, 1, 23), size=(4, 17, 23)).astype(np.float32)
        write_stack(RasterStack(truth[2:] + noise, daily_times(6)[2:], grid), paths[-1])

    def run(folder):
        (tmp_path / folder).mkdir()
        out = {"output": str(tmp_path / folder / "best.tif"), "output_evaluation": str(tmp_path / folder / "e.tif")}
        run_command("evaluateforecasts", {"forecasts": paths[1:], "observed": {"raster": paths[0]}, **out})
        with rasterio.open(out["output"]) as best, rasterio.open(out["output_evaluation"]) as evaluation:
            return best.read(), evaluation.read()

    monkeypatch.setattr(evaluate_forecasts, "chunk_side", lambda *args, **kwargs: 10**6)  # one window
    whole = run("whole")
    monkeypatch.setattr(evaluate_forecasts, "chunk_side", lambda *args, **kwargs: 5)  # 20 windows
    windowed = run("windowed")
    np.testing.assert_array_equal(whole[0], windowed[0])
    np.testing.assert_array_equal(whole[1], windowed[1])
    assert set(np.unique(whole[1][-1])) == {1.0, 2.0, 3.0}  # every forecast wins somewhere
