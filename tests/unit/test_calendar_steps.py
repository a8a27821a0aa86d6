"""Calendar months, quarters and years as time axes; resampling; DST-shifted daily times; per-engine use."""

import numpy as np
import pandas as pd
import pytest

from backend.commands import run_command
from backend.data.time_axis import on_regular_axis, resample_values, summarize_time_axis
from backend.data.time_step import TimeStep, calendar_months, parse_time_step, steps_until
from backend.errors import UserInputError
from tests.collect import CollectingReporter
from tests.monthly_data import irish_wind_monthly
from tests.paths import PM10_Q1


def dates(*texts):
    return np.array(texts, dtype="datetime64[s]")


def test_monthly_times_are_regular_with_real_dates():
    times = pd.date_range("1961-01-01", "1978-12-01", freq="MS").to_numpy().astype("datetime64[s]")
    summary = summarize_time_axis(times)
    assert summary.regular and summary.step == TimeStep(months=1) and summary.step_text == "1 month"
    assert "irregular" not in summary.describe()
    full, values, step = on_regular_axis(np.delete(times, [5, 6]), np.arange(214.0))
    assert full.size == 216 and np.isnan(values[5:7]).all() and full[5] == np.datetime64("1961-06-01T00:00:00")


def test_month_ends_quarters_and_years():
    ends = dates("2004-01-31", "2004-02-29", "2004-03-31", "2004-04-30")
    assert summarize_time_axis(ends).regular
    assert TimeStep(months=1).times(ends[0], 3, first=4).tolist() == list(
        dates("2004-05-31", "2004-06-30", "2004-07-31")
    )
    quarters = dates("2001-01-01", "2001-04-01", "2001-07-01", "2002-01-01")
    summary = summarize_time_axis(quarters)
    assert summary.step == TimeStep(months=3) and summary.missing_steps == 1
    years = dates("1998-07-01", "1999-07-01", "2000-07-01")
    assert summarize_time_axis(years).step == TimeStep(months=12) and summarize_time_axis(years).step_text == "1 year"


def test_daily_times_with_leap_days_and_dst_shifts_are_regular():
    leap = pd.date_range("2003-12-25", "2004-03-05", freq="D").to_numpy().astype("datetime64[s]")
    assert summarize_time_axis(leap).regular
    # local midnight in Berlin written in UTC: 23:00 in winter, 22:00 in summer (DST from 2020-03-29)
    local = pd.date_range("2020-03-20", "2020-04-05", freq="D", tz="Europe/Berlin").tz_convert(None)
    times = local.to_numpy().astype("datetime64[s]")
    summary = summarize_time_axis(times)
    assert summary.regular and summary.step == TimeStep(seconds=86400)
    full, values, _ = on_regular_axis(times, np.arange(times.size, dtype=np.float32))
    assert full.size == times.size and np.array_equal(values, np.arange(times.size))


def test_off_axis_times_are_refused_with_advice():
    with pytest.raises(UserInputError, match="irregular.*RESAMPLE"):
        on_regular_axis(
            dates("2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00", "2020-01-01T02:25", "2020-01-01T03:00"),
            np.zeros(5),
        )


@pytest.mark.parametrize(
    "text, step",
    [
        ("1M", TimeStep(months=1)),
        ("month", TimeStep(months=1)),
        ("3M", TimeStep(months=3)),
        ("1Q", TimeStep(months=3)),
        ("1Y", TimeStep(months=12)),
        ("1D", TimeStep(seconds=86400)),
        ("6h", TimeStep(seconds=21600)),
        ("30min", TimeStep(seconds=1800)),
    ],
)
def test_time_step_text(text, step):
    assert parse_time_step(text) == step and parse_time_step(step.code) == step


def test_ambiguous_or_bad_steps_are_refused():
    with pytest.raises(UserInputError, match="ambiguous"):
        parse_time_step("1m")
    with pytest.raises(UserInputError, match="Cannot read"):
        parse_time_step("fortnightly-ish")


@pytest.mark.parametrize(
    "statistic, expected",
    [
        ("mean", [2.0, 5.0]),
        ("median", [2.0, 5.0]),
        ("sum", [6.0, 10.0]),
        ("last", [3.0, 6.0]),
        ("first", [1.0, 4.0]),
        ("max", [3.0, 6.0]),
    ],
)
def test_resampling_statistics_and_empty_steps(statistic, expected):
    times = dates("2020-01-03", "2020-01-10", "2020-01-31", "2020-03-02", "2020-03-30")
    values = np.array([[1.0], [2.0], [3.0], [4.0], [6.0]])
    result = resample_values(times, values, TimeStep(months=1), statistic)
    assert result.times.tolist() == list(dates("2020-01-01", "2020-02-01", "2020-03-01"))
    assert result.values[[0, 2], 0].tolist() == expected and np.isnan(result.values[1, 0])
    assert result.empty_steps == 1


def test_calendar_months_and_steps_until():
    assert calendar_months(dates("1970-03-01", "2005-03-16T12:00")).tolist() == [2.0, 422.5]
    assert steps_until(np.datetime64("2005-01-31", "s"), np.datetime64("2005-12-31", "s"), TimeStep(months=1)) == 12
    assert (
        steps_until(np.datetime64("2005-01-01", "s"), np.datetime64("2005-01-03T12:00", "s"), TimeStep(seconds=86400))
        == 3
    )


@pytest.fixture(scope="module")
def monthly_wind(tmp_path_factory):
    return irish_wind_monthly(tmp_path_factory.mktemp("wind"), full=False)


def test_monthly_diagnostics_equal_pymannkendall(monthly_wind, tmp_path):
    mk = pytest.importorskip("pymannkendall", reason="pymannkendall (the reference) is not installed here")
    path, table = monthly_wind
    reporter = CollectingReporter()
    result = run_command(
        "timeseriesdiagnostics",
        {
            "source": {
                "points": {
                    "path": str(path),
                    "id_field": "station_id",
                    "time_field": "date",
                    "value_field": "wind_speed_knots",
                }
            },
            "output": str(tmp_path / "d.csv"),
        },
        reporter,
    )
    assert result.summary["period"] == 12 and result.summary["time_step"]["months"] == 1
    assert any("seasonal Mann-Kendall over 12 seasons" in m for m in reporter.logs)
    out = pd.read_csv(tmp_path / "d.csv").set_index("station_id")
    for station, part in table.groupby("station_id"):
        series = part.sort_values("date")["wind_speed_knots"].to_numpy()
        original, seasonal = mk.original_test(series), mk.seasonal_test(series, period=12)
        row = out.loc[station]
        assert row["mk_p"] == pytest.approx(original.p, abs=1e-6)
        assert row["trend_slope"] == pytest.approx(original.slope, abs=1e-6)
        assert row["slope_per_year"] == pytest.approx(12 * original.slope, abs=1e-6)
        assert row["seasonal_mk_p"] == pytest.approx(seasonal.p, abs=1e-6)
        assert row["seasonal_mk_z"] == pytest.approx(seasonal.z, abs=1e-6)
        assert row["seasonal_slope_per_year"] == pytest.approx(seasonal.slope, abs=1e-6)


def test_monthly_hot_spots_forecast_times_and_kriging_lags(monthly_wind, tmp_path):
    path, _ = monthly_wind
    points = {"path": str(path), "id_field": "station_id", "time_field": "date", "value_field": "wind_speed_knots"}
    hot = run_command("emerginghotspots", {"source": {"points": points}, "output": str(tmp_path / "h.gpkg")})
    assert hot.summary["time_steps"] == 36 and sum(hot.summary["categories"].values()) == 12
    fit = run_command(
        "fitstvariogram",
        {"points": points, "output_model": str(tmp_path / "m.json"), "variogram": {"model": "separable", "tlags": 3}},
    )
    assert fit.summary["model"]["time_unit"] == "month"


def test_daily_points_aggregate_to_months_quarters_and_years(tmp_path):
    points = {"path": str(PM10_Q1), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}
    reporter = CollectingReporter()
    run_command(
        "timeseriesclustering",
        {
            "source": {"points": points},
            "output": str(tmp_path / "c.gpkg"),
            "output_profiles": str(tmp_path / "p.csv"),
            "time_step": "1M",
        },
        reporter,
    )
    profiles = pd.read_csv(tmp_path / "p.csv")
    assert sorted(profiles["time"].str[:10].unique()) == ["2005-01-01", "2005-02-01", "2005-03-01"]
    assert any("to 3 steps of 1 month (mean); 0 step(s) have no value" in m for m in reporter.logs)
    with pytest.raises(UserInputError, match="At least 2 time steps.*have 1.*shorter step"):
        run_command(
            "emerginghotspots", {"source": {"points": points}, "output": str(tmp_path / "h.gpkg"), "time_step": "3M"}
        )


def test_resample_on_a_point_input_logs_empty_steps(tmp_path):
    points = {
        "path": str(PM10_Q1),
        "id_field": "station_id",
        "time_field": "date",
        "value_field": "pm10",
        "resample": "7D",
        "resample_statistic": "max",
    }
    reporter = CollectingReporter()
    run_command("describespacetime", {"points": points, "output_html": str(tmp_path / "r.html")}, reporter)
    assert any("steps of 7 days (max); 0 step(s) have no value" in m for m in reporter.logs)
