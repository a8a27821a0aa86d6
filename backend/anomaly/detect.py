"""Anomaly detection on station series (a PointPanel): expected value → robust z → smoothed score → flags → events."""

from __future__ import annotations

import warnings
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
    """method: auto (per station an ensemble of the seasonal profile, where the series covers two cycles, and a
    rolling median; see :class:`AutoMethod`; the log says which and why) | seasonal | rolling_median | kriging
    (value vs. what the other stations predict) | forecaster (the one-step-ahead forecast of a trained network
    forecaster in ``model``; set automatically when a model is given).

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


AUTO_SCALES = (1, 2, 4)  # METHOD auto: |z| smoothed over SMOOTH_STEPS × each of these, averaged
AUTO_MIN_WINDOW = pd.Timedelta(days=1)  # METHOD auto: the rolling median spans at least a day
AUTO_Z_WINDOW = pd.Timedelta(days=7)  # METHOD auto: z against the residuals of the preceding week …
AUTO_Z_MIN_STEPS = 28  # … or of this many median steps when longer (daily data: 4 weeks, enough to give a scale)


class AutoMethod:
    """METHOD auto, station by station: an ensemble of expected values — the seasonal profile where the series covers
    two cycles (not with CAUSAL: the profile is fitted on the whole series) and a causal rolling median over the
    longest of WINDOW, a day and AUTO_WINDOW_STEPS median steps — each residual's robust z against the preceding
    week's residuals (at least :data:`AUTO_Z_MIN_STEPS` steps; its own scale, adapting), and the score the mean of
    their |z| smoothed over several lengths (:data:`AUTO_SCALES` × SMOOTH_STEPS). Chosen by leave-one-series-out
    AUC-PR on labelled traffic series (``benchmarks/anomaly.py``)."""

    def __init__(self, window: str) -> None:
        self.window = parse_duration(window, "rolling window (WINDOW)")
        self.both: dict[str, str] = {}  # station → rolling window text
        self.rolling: dict[str, tuple[str, str]] = {}  # station → (window text, reason)

    def members(self, station: str, times: np.ndarray, causal: bool) -> list[tuple[str, str]]:
        """(method, window) of each expected value for this station."""
        width = max(self.window, AUTO_MIN_WINDOW, pd.Timedelta(seconds=AUTO_WINDOW_STEPS * median_step_seconds(times)))
        rolling = ("rolling_median", f"{int(width.total_seconds())}s")
        text = format_duration(width.total_seconds())
        problem = "CAUSAL is set (the seasonal profile would use later values)" if causal else None
        problem = problem or seasonal_profile_problem(times)
        if problem is None:
            self.both[station] = text
            return [("seasonal", str(self.window)), rolling]
        self.rolling[station] = (text, problem.rstrip("."))
        return [rolling]

    def score(self, station, times, values, causal: bool, smooth_steps: int):
        """(expected, z, score) float64[T] each: the members' mean expected value and z, and the ensemble score."""
        expected = [expected_values(m, times, values, w) for m, w in self.members(station, times, causal)]
        past = max(AUTO_Z_WINDOW, pd.Timedelta(seconds=AUTO_Z_MIN_STEPS * median_step_seconds(times)))
        z = [causal_robust_z(times, values - e, f"{int(past.total_seconds())}s") for e in expected]
        score = np.mean(
            [smoothed_score(times, np.nan_to_num(zm, nan=0.0), smooth_steps * k) for zm in z for k in AUTO_SCALES],
            axis=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the first values have no past to be scored against
            return np.mean(expected, axis=0), np.nanmean(z, axis=0), score

    def describe(self) -> str:
        parts = []
        if self.both:
            windows = sorted(set(self.both.values()))
            parts.append(
                f"seasonal profile and rolling median (window {', '.join(windows)}) together for {len(self.both)} "
                "station(s)"
            )
        if self.rolling:
            station, (width, reason) = next(iter(self.rolling.items()))
            windows = sorted({w for w, _ in self.rolling.values()})
            parts.append(
                f"rolling median (window {', '.join(windows)}) for {len(self.rolling)} station(s) without a "
                f"seasonal profile (e.g. {station}: {reason})"
            )
        scales = "/".join(str(k) for k in AUTO_SCALES)
        return (
            "METHOD auto: "
            + "; ".join(parts)
            + f"; z against the preceding week's (at least {AUTO_Z_MIN_STEPS} steps') residuals, scores smoothed "
            + f"over {scales} × SMOOTH_STEPS and averaged."
        )


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
        if settings.method == "auto":
            expected, z, score = auto_choice.score(station, times, values, settings.causal, settings.smooth_steps)
        else:
            if expected_by_panel is not None:
                expected = expected_by_panel[i, ok]
            else:
                try:
                    expected = expected_values(settings.method, times, values, settings.window)
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
