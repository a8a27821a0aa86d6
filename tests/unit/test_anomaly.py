"""Anomaly detection: robust scores, expected values, thresholds, events, evaluation, commands."""

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from backend.anomaly.detect import DetectionSettings, detect_point_anomalies
from backend.anomaly.evaluation import event_scores, point_labels, ranking_scores
from backend.anomaly.events import find_events, threshold_value
from backend.anomaly.expected import rolling_median_expected, seasonal_expected
from backend.anomaly.raster import RasterScorer
from backend.anomaly.scores import causal_robust_z, robust_z
from backend.commands import run_command
from backend.data.point_panel import PointPanel
from backend.data.raster_io import read_stack, write_stack
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from tests.collect import CollectingReporter
from tests.paths import PM10_Q1, SAMPLE

NAB = SAMPLE / "nab_traffic"


def nab_series():
    frame = pd.read_csv(NAB / "speed_7578.csv")
    times = pd.to_datetime(frame["timestamp"]).to_numpy().astype("datetime64[s]")
    windows = [
        (np.datetime64(pd.Timestamp(a)), np.datetime64(pd.Timestamp(b)))
        for a, b in json.loads((NAB / "labels.json").read_text())["speed_7578.csv"]["windows"]
    ]
    return times, frame["value"].to_numpy(float), windows


def test_robust_z_ignores_outliers_and_handles_constant_series():
    residuals = np.r_[np.random.default_rng(0).normal(0, 2, 500), 40.0]
    z = robust_z(residuals)
    assert abs(np.median(z[:-1])) < 0.1 and 0.8 < np.std(z[:-1]) < 1.2 and z[-1] > 15
    assert np.all(robust_z(np.full(10, 5.0)) == 0)  # MAD 0 and no spread: nothing anomalous
    mostly_flat = np.r_[np.zeros(20), 3.0]
    assert np.isfinite(robust_z(mostly_flat)).all() and robust_z(mostly_flat)[-1] > 3


def test_causal_z_only_uses_the_past():
    times = np.datetime64("2020-01-01") + np.arange(300).astype("timedelta64[h]")
    values = np.random.default_rng(1).normal(size=300)
    z = causal_robust_z(times, values, window="5D")
    changed = values.copy()
    changed[200:] += 50  # a change in the future must not alter earlier scores
    np.testing.assert_allclose(causal_robust_z(times, changed, window="5D")[:200], z[:200])


def test_seasonal_profile_recovers_the_daily_cycle():
    times = np.datetime64("2020-01-01") + np.arange(24 * 10).astype("timedelta64[h]")
    hour = np.arange(times.size) % 24
    values = 10 + 5 * np.sin(2 * np.pi * hour / 24)
    np.testing.assert_allclose(seasonal_expected(times, values), values, atol=1e-9)
    with pytest.raises(UserInputError, match="too short for a seasonal profile"):
        seasonal_expected(times[:30], values[:30])


def test_rolling_median_is_causal():
    times = np.datetime64("2020-01-01") + np.arange(10).astype("timedelta64[h]")
    values = np.arange(10.0)
    np.testing.assert_allclose(rolling_median_expected(times, values, "3h")[3:], [1, 2, 3, 4, 5, 6, 7])


def test_thresholds_and_bad_ranges():
    scores = np.arange(100.0)
    assert threshold_value("quantile", 0.9, scores) == pytest.approx(89.1)
    assert threshold_value("false_alarm_rate", 0.05, scores) == pytest.approx(1.959964, rel=1e-5)
    with pytest.raises(UserInputError, match="between 0 and 1"):
        threshold_value("quantile", 1.5, scores)
    with pytest.raises(UserInputError, match="must be > 0"):
        threshold_value("score", -1, scores)


def test_events_merge_close_flags():
    times = np.datetime64("2020-01-01") + (np.arange(10) * 300).astype("timedelta64[s]")
    flags = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 0], bool)
    scores = np.arange(10.0)
    events, event_of = find_events("s", times, scores, flags, min_gap_seconds=600)
    assert [(e.points, e.peak_score) for e in events] == [(3, 4.0), (1, 8.0)]
    assert event_of.tolist() == [0, 1, 1, 0, 1, 0, 0, 0, 2, 0]


def test_detector_beats_random_on_the_nab_sample():
    times, values, windows = nab_series()
    panel = PointPanel(["7578"], [[0.0, 0.0]], "", times, values[None])
    detection = detect_point_anomalies(panel, DetectionSettings(method="rolling_median", window="6h"))
    labels = point_labels(times, windows)
    ours = ranking_scores(labels, detection.table["score"].to_numpy())
    assert ours["auc_pr"] > 2 * labels.mean()  # random scores give about the base rate
    events = event_scores(times, detection.table["is_anomaly"].to_numpy() > 0, windows)
    assert events["event_recall"] >= 0.5


def test_point_command_kriging_method_and_outputs(tmp_path):
    import geopandas as gpd

    points = {"path": str(PM10_Q1), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}
    result = run_command(
        "detectpointanomalies",
        {
            "points": points,
            "output": str(tmp_path / "a.gpkg"),
            "output_events": str(tmp_path / "e.csv"),
            "output_report": str(tmp_path / "r.html"),
            "detection": {"method": "kriging", "smooth_steps": 1},
        },
    )
    table = gpd.read_file(tmp_path / "a.gpkg")
    assert len(table) == 5840 and {
        "station_id",
        "time",
        "observed",
        "expected",
        "score",
        "is_anomaly",
        "event_id",
    } <= set(table.columns)
    assert int(table["is_anomaly"].sum()) == result.summary["flagged"] > 0
    events = pd.read_csv(tmp_path / "e.csv")
    assert len(events) == result.summary["events"] and (events["peak_score"] > 3.5).all()
    flagged_only = run_command(
        "detectpointanomalies",
        {
            "points": points,
            "output": str(tmp_path / "f.gpkg"),
            "flagged_only": True,
            "detection": {"method": "kriging", "smooth_steps": 1},
        },
    )
    assert len(gpd.read_file(tmp_path / "f.gpkg")) == flagged_only.summary["flagged"]


def test_raster_scores_flags_and_summary(tmp_path):
    stack = read_stack(SAMPLE / "era5_t2m_uk_2019_03_hourly.tif")
    values = stack.values[:240, :20, :20].copy()
    values[100, 5, 5] += 15.0  # a 15 K spike
    values[:, 0, 0] = np.nan  # a cell with no data
    small = RasterStack(values, stack.times[:240], GridSpec(20, 20, stack.grid.transform, stack.grid.crs))
    write_stack(small, tmp_path / "s.tif")
    result = run_command(
        "detectrasteranomalies",
        {
            "input": str(tmp_path / "s.tif"),
            "block": 8,
            "output_scores": str(tmp_path / "sc.tif"),
            "output_flags": str(tmp_path / "fl.tif"),
            "output_summary": str(tmp_path / "n.tif"),
        },
    )
    with (
        rasterio.open(tmp_path / "sc.tif") as sc,
        rasterio.open(tmp_path / "fl.tif") as fl,
        rasterio.open(tmp_path / "n.tif") as n,
    ):
        scores, flags = sc.read(), fl.read()
        assert scores[100, 5, 5] == np.nanmax(scores[:, 5, 5]) and flags[100, 5, 5] == 1
        assert np.isnan(scores[:, 0, 0]).all() and np.isnan(n.read(1)[0, 0])
        assert n.read(1)[5, 5] >= 1 and result.summary["flagged"] == int(np.nansum(flags))
    # block-wise and whole-stack scoring agree
    whole = RasterScorer("seasonal", small.times, TimeStep(seconds=3600)).score(values)
    np.testing.assert_allclose(scores, whole, equal_nan=True, rtol=1e-5)


def test_raster_bad_inputs(tmp_path):
    stack = read_stack(SAMPLE / "era5_t2m_uk_2019_03_hourly.tif")
    short = RasterStack(
        stack.values[:12, :4, :4], stack.times[:12], GridSpec(4, 4, stack.grid.transform, stack.grid.crs)
    )
    write_stack(short, tmp_path / "short.tif")
    with pytest.raises(UserInputError, match="too short for a seasonal profile"):
        run_command(
            "detectrasteranomalies",
            {"input": str(tmp_path / "short.tif"), "method": "seasonal", "output_scores": str(tmp_path / "x.tif")},
        )
    reporter = CollectingReporter()
    run_command(
        "detectrasteranomalies",
        {"input": str(tmp_path / "short.tif"), "output_scores": str(tmp_path / "auto.tif")},
        reporter,
    )
    assert any("METHOD auto: rolling median" in m and "too short" in m for m in reporter.logs)
    with pytest.raises(UserInputError, match="quantile threshold needs all scores"):
        run_command(
            "detectrasteranomalies",
            {
                "input": str(tmp_path / "short.tif"),
                "threshold_mode": "quantile",
                "threshold": 0.9,
                "output_scores": str(tmp_path / "x.tif"),
            },
        )
    assert not (tmp_path / "x.tif").exists()
    flat = RasterStack(
        np.full((48, 3, 3), 7.0, np.float32),
        np.datetime64("2020-01-01") + np.arange(48).astype("timedelta64[h]"),
        GridSpec(3, 3, stack.grid.transform, stack.grid.crs),
    )
    write_stack(flat, tmp_path / "flat.tif")
    run_command(
        "detectrasteranomalies", {"input": str(tmp_path / "flat.tif"), "output_scores": str(tmp_path / "f.tif")}
    )
    with rasterio.open(tmp_path / "f.tif") as src:
        assert (src.read() == 0).all()  # constant series: no division by zero, nothing anomalous
    assert np.all(robust_z(np.full((5, 2, 2), 3.0)) == 0)


def test_auto_averages_seasonal_and_rolling_scores_over_three_smoothing_lengths():
    from backend.anomaly.detect import smoothed_score

    rng = np.random.default_rng(4)
    times = np.datetime64("2024-01-01T00:00:00") + np.arange(3 * 288) * np.timedelta64(300, "s")
    hours = (times - times[0]).astype(np.int64) / 3600.0
    values = 50 + 10 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, times.size)
    values[700:712] -= 25  # one hour of a drop on the third day
    panel = PointPanel(["s1"], [[0.0, 0.0]], "", times, values[None])
    values = panel.values[0].astype(np.float64)  # as the panel stores them
    reporter = CollectingReporter()
    detection = detect_point_anomalies(panel, DetectionSettings(), reporter)
    members = [seasonal_expected(times, values), rolling_median_expected(times, values, "86400s")]
    z = [np.nan_to_num(causal_robust_z(times, values - e), nan=0.0) for e in members]
    expected_score = np.mean([smoothed_score(times, zm, 12 * k) for zm in z for k in (1, 2, 4)], axis=0)
    np.testing.assert_allclose(detection.table["score"], expected_score, rtol=1e-12)
    np.testing.assert_allclose(detection.table["expected"], np.mean(members, axis=0), rtol=1e-12)
    assert 700 <= int(np.argmax(detection.table["score"])) < 760  # the drop scores highest
    assert any("seasonal profile and rolling median (window 1 day)" in m for m in reporter.logs)
    causal = CollectingReporter()
    detect_point_anomalies(panel, DetectionSettings(causal=True), causal)  # streaming: no profile from later values
    assert any("rolling median" in m and "CAUSAL is set" in m for m in causal.logs)


def test_auto_scores_daily_series_against_four_weeks_of_past_residuals():
    rng = np.random.default_rng(5)
    times = np.datetime64("2005-01-01T00:00:00") + np.arange(120) * np.timedelta64(1, "D")
    values = 20 + rng.normal(0, 2, times.size)
    values[80:83] += 30  # three days of an episode
    panel = PointPanel(["s1"], [[0.0, 0.0]], "", times, values[None])
    score = detect_point_anomalies(panel, DetectionSettings()).table["score"].to_numpy()
    assert np.isnan(causal_robust_z(times, values)).all()  # a week of daily values is too few for a scale …
    assert 80 <= int(np.argmax(score)) < 90 and score.max() > 1  # … so auto looks back four weeks
