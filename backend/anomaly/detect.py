"""Anomaly detection on station series (a PointPanel): expected value → robust z → smoothed score → flags → events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.anomaly.events import Event, event_id, find_events, threshold_value
from backend.anomaly.expected import expected_values, seasonal_profile_problem
from backend.anomaly.scores import causal_robust_z, robust_z
from backend.data.point_panel import PointPanel
from backend.data.time_axis import median_step_seconds
from backend.data.time_parsing import format_duration, parse_duration
from backend.errors import UserInputError
from backend.progress import Reporter

POINT_METHODS = ("auto", "seasonal", "rolling_median", "kriging", "forecaster")
AUTO_WINDOW_STEPS = 7  # METHOD auto: a rolling median spans at least this many median time steps


@dataclass
class DetectionSettings:
    """method: auto (per station: seasonal where the series covers two cycles, else a rolling median over at least
    AUTO_WINDOW_STEPS steps; the log says which and why) | seasonal | rolling_median | kriging (value vs. what the
    other stations predict) | forecaster (the one-step-ahead forecast of a trained network forecaster in ``model``;
    set automatically when a model is given).

    window: rolling-median width; causal: score against past residuals only; smooth_steps: the score is the
    mean |z| over this many median time steps (1 = no smoothing); threshold_mode/threshold: see
    :func:`threshold_value`; min_gap: flagged points closer than this form one event (default 3 steps).
    """

    method: str = "auto"
    window: str = "6h"
    causal: bool = False
    smooth_steps: int = 12
    threshold_mode: str = "score"
    threshold: float = 3.5
    min_gap: str | None = None
    model: str | None = None
    device: str = "auto"


@dataclass
class Detection:
    table: pd.DataFrame  # one row per observation: station_id, time, observed, expected, z, score, is_anomaly, event_id
    events: list[Event]
    threshold: float


def smoothed_score(times: np.ndarray, z: np.ndarray, steps: int) -> np.ndarray:
    """Mean |z| over the trailing ``steps`` median time steps (time-based, for irregular series)."""
    score = np.abs(z)
    if steps <= 1 or times.size < 2:
        return score
    step = median_step_seconds(times)
    series = pd.Series(score, index=pd.DatetimeIndex(times))
    return series.rolling(pd.Timedelta(seconds=step * steps), min_periods=1).mean().to_numpy()


def _kriging_expected(panel: PointPanel, reporter: Reporter) -> np.ndarray:
    from backend.kriging.cross_validation import leave_one_station_out
    from backend.kriging.kriging import KrigingOptions
    from backend.kriging.workflow import fit_variogram, kriging_panel

    metric = kriging_panel(panel, reporter)
    fit = fit_variogram(metric, reporter=reporter.scaled(0, 30))
    reporter.log(f"Kriging model for the expected values: {fit.best.model.describe()}")
    cv = leave_one_station_out(metric, fit.best.model, KrigingOptions(), reporter.scaled(30, 100))
    expected = np.full(panel.values.shape, np.nan)
    station, step = np.nonzero(np.isfinite(panel.values))
    expected[station, step] = cv.residuals["predicted"].to_numpy()
    return expected


def _forecaster_expected(panel: PointPanel, settings: DetectionSettings, reporter: Reporter) -> np.ndarray:
    from backend.device import choose_device, require_torch
    from backend.forecast.sensors.predict import one_step_expected

    if not settings.model:
        raise UserInputError("The forecaster method needs a trained network forecaster folder (MODEL).")
    require_torch("The forecaster method")
    return one_step_expected(settings.model, panel, choose_device(settings.device), reporter)


class AutoMethod:
    """METHOD auto, station by station: the seasonal profile where the series covers two cycles, else a rolling
    median whose window spans at least AUTO_WINDOW_STEPS median steps (WINDOW when that is longer)."""

    def __init__(self, window: str) -> None:
        self.window = parse_duration(window, "rolling window (WINDOW)")
        self.seasonal: list[str] = []
        self.rolling: dict[str, tuple[str, str]] = {}  # station → (window text, reason)

    def pick(self, station: str, times: np.ndarray) -> tuple[str, str]:
        problem = seasonal_profile_problem(times)
        if problem is None:
            self.seasonal.append(station)
            return "seasonal", str(self.window)
        width = max(self.window, pd.Timedelta(seconds=AUTO_WINDOW_STEPS * median_step_seconds(times)))
        self.rolling[station] = (format_duration(width.total_seconds()), problem.rstrip("."))
        return "rolling_median", f"{int(width.total_seconds())}s"

    def describe(self) -> str:
        parts = []
        if self.seasonal:
            parts.append(f"seasonal profile for {len(self.seasonal)} station(s)")
        if self.rolling:
            station, (width, reason) = next(iter(self.rolling.items()))
            windows = sorted({w for w, _ in self.rolling.values()})
            parts.append(
                f"rolling median (window {', '.join(windows)}) for {len(self.rolling)} station(s) whose "
                f"series cannot give a seasonal profile (e.g. {station}: {reason})"
            )
        return "METHOD auto: " + "; ".join(parts) + "."


def detect_point_anomalies(
    panel: PointPanel, settings: DetectionSettings, reporter: Reporter | None = None
) -> Detection:
    reporter = reporter or Reporter()
    if settings.method not in POINT_METHODS:
        raise UserInputError(f"Unknown method {settings.method!r}; use one of {', '.join(POINT_METHODS)}.")
    parse_duration(settings.window, "rolling window (WINDOW)")
    if settings.min_gap:
        parse_duration(settings.min_gap, "event gap")
    observed_any = np.isfinite(panel.values).any(axis=1)
    if not observed_any.any():
        raise UserInputError("Every station is all missing: there is nothing to score.")
    for station in panel.ids[~observed_any]:
        reporter.warning(f"Station {station} has no observation and is skipped.")
    if settings.model and settings.method != "forecaster":
        reporter.log(
            f"A forecaster model is given: expected values are its one-step forecasts (not {settings.method})."
        )
        settings.method = "forecaster"
    expected_by_panel = None
    if settings.method == "kriging":
        expected_by_panel = _kriging_expected(panel, reporter.scaled(0, 60))
    elif settings.method == "forecaster":
        expected_by_panel = _forecaster_expected(panel, settings, reporter)
    rows, all_events = [], []
    auto_choice = AutoMethod(settings.window)
    for i, station in enumerate(panel.ids):
        ok = np.isfinite(panel.values[i])
        if not ok.any():
            continue
        times, values = panel.times[ok], panel.values[i, ok].astype(np.float64)
        if expected_by_panel is not None:
            expected = expected_by_panel[i, ok]
        else:
            method, window = settings.method, settings.window
            if method == "auto":
                method, window = auto_choice.pick(station, times)
            try:
                expected = expected_values(method, times, values, window)
            except UserInputError as exc:
                raise UserInputError(f"Station {station}: {exc}") from exc
        residual = values - expected
        z = causal_robust_z(times, residual) if settings.causal else robust_z(residual)
        score = smoothed_score(times, np.nan_to_num(z, nan=0.0), settings.smooth_steps)
        rows.append(
            pd.DataFrame(
                {"station_id": station, "time": times, "observed": values, "expected": expected, "z": z, "score": score}
            )
        )
        reporter.progress(60 + 30 * (i + 1) / panel.n_stations, f"station {station}")
    if settings.method == "auto":
        reporter.log(auto_choice.describe())
    table = pd.concat(rows, ignore_index=True)
    threshold = threshold_value(settings.threshold_mode, settings.threshold, table["score"].to_numpy())
    table["is_anomaly"] = (table["score"] > threshold).astype(np.int64)
    table["event_id"] = ""
    for station, part in table.groupby("station_id", sort=False):
        times = part["time"].to_numpy().astype("datetime64[s]")
        gap = pd.Timedelta(settings.min_gap).total_seconds() if settings.min_gap else 3 * median_step_seconds(times)
        events, event_of = find_events(
            str(station), times, part["score"].to_numpy(), part["is_anomaly"].to_numpy() > 0, gap
        )
        table.loc[part.index, "event_id"] = [event_id(str(station), n) for n in event_of]
        all_events += events
    reporter.log(
        f"Threshold {threshold:.4g}: {int(table['is_anomaly'].sum())} flagged observations in "
        f"{len(all_events)} event(s)."
    )
    return Detection(table, all_events, threshold)
