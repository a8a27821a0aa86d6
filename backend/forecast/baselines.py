"""Baseline forecasts for raster stacks (and any [T, ...] array): persistence, seasonal climatology,
persisted anomaly (climatology + last anomaly) and per-cell simple exponential smoothing.

Each baseline is fitted on training steps only and predicts H steps from an origin index.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from backend.data.seasons import WEEK_SECONDS, season_index
from backend.data.time_step import TimeStep

BASELINES = ("persistence", "climatology", "persisted_anomaly", "exponential_smoothing")


NETWORK_BASELINES = ("persistence", "historical_average", "seasonal_naive", "exponential_smoothing", "ar")


@dataclass
class Climatology:
    """Mean per season and cell over the training steps (cells without data: overall training mean)."""

    means: np.ndarray  # float32[S, ...]

    @classmethod
    def fit(cls, values: np.ndarray, seasons: np.ndarray, n_seasons: int) -> Climatology:
        overall = np.nanmean(values, axis=0)
        overall = np.where(np.isfinite(overall), overall, np.nanmean(values))
        means = np.empty((n_seasons,) + values.shape[1:], dtype=np.float32)
        for s in range(n_seasons):
            rows = values[seasons == s]
            with warnings.catch_warnings():  # all-missing cells in a season fall back to the overall mean
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(rows, axis=0) if rows.size else overall
            means[s] = np.where(np.isfinite(mean), mean, overall)
        if n_seasons == 365:  # smooth day-of-year means over ±15 days (few years of data)
            kernel = np.ones(31) / 31
            padded = np.concatenate([means[-15:], means, means[:15]])
            means = np.apply_along_axis(lambda x: np.convolve(x, kernel, mode="valid"), 0, padded).astype(np.float32)
        return cls(means)

    def at(self, seasons: np.ndarray) -> np.ndarray:
        return self.means[seasons]


def _next_level(level: np.ndarray, x: np.ndarray, alpha) -> np.ndarray:
    """One exponential-smoothing update; a missing value keeps the level, a first value starts it."""
    return np.where(np.isfinite(x), np.where(np.isfinite(level), level + alpha * (x - level), x), level)


def fit_smoothing_alpha(values: np.ndarray, grid=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)) -> np.ndarray:
    """Per-cell smoothing constant minimising one-step squared error on the training steps."""
    best_err = np.full(values.shape[1:], np.inf)
    best = np.ones(values.shape[1:], dtype=np.float32)
    for alpha in grid:
        level = values[0].astype(np.float64)
        err = np.zeros(values.shape[1:])
        for x in values[1:]:
            ok = np.isfinite(x) & np.isfinite(level)
            err += np.where(ok, (x - level) ** 2, 0.0)
            level = _next_level(level, x, alpha)
        better = err < best_err
        best_err, best = np.where(better, err, best_err), np.where(better, alpha, best)
    return best


def smoothed_levels(values: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Level after each step (float32[T, ...]), run through the whole series (causal)."""
    level = values[0].astype(np.float64)
    levels = np.empty(values.shape, dtype=np.float32)
    for t, x in enumerate(values):
        if t:
            level = _next_level(level, x, alpha)
        levels[t] = level
    return levels


def forward_filled(values: np.ndarray) -> np.ndarray:
    """Each NaN replaced by the last earlier valid value of its cell (float32[T, ...])."""
    filled = values.astype(np.float32).copy()
    for t in range(1, filled.shape[0]):
        filled[t] = np.where(np.isnan(filled[t]), filled[t - 1], filled[t])
    return filled


def fit_ar(anomalies: np.ndarray, max_lag: int) -> list[np.ndarray]:
    """Per-series AR(p) coefficients [const, a_1 … a_p] (statsmodels AutoReg, p ≤ max_lag chosen by BIC)
    on anomalies float[T, N] (missing = 0)."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    params = []
    for series in anomalies.T.astype(np.float64):
        if np.ptp(series) == 0 or series.size < 4 * max_lag:
            params.append(np.zeros(1))
            continue
        lags = ar_select_order(series, maxlag=max_lag, ic="bic", trend="c").ar_lags or []
        p = max(lags) if lags else 0
        params.append(np.asarray(AutoReg(series, lags=p, trend="c").fit().params) if p else np.array([series.mean()]))
    return params


def ar_forecast(params: list[np.ndarray], anomalies: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Recursive AR forecasts of the anomalies: float32[O, H, N] from each origin (vectorised over origins)."""
    out = np.empty((origins.size, horizon, len(params)), dtype=np.float32)
    for n, coefficients in enumerate(params):
        p = coefficients.size - 1
        history = [anomalies[np.maximum(origins - lag, 0), n] for lag in range(p)]  # lag 1 … p
        for h in range(horizon):
            value = (
                coefficients[0] + sum(coefficients[1 + i] * history[i] for i in range(p))
                if p
                else np.full(origins.size, coefficients[0])
            )
            out[:, h, n] = value
            history = [value] + history[:-1] if p else history
    return out


class BaselineSet:
    """All baselines fitted on ``values[:train_end]``; ``predict(name, origin, H)`` → float32[H, ...].

    ``weekly``: seasons by step of the week for sub-daily data (historical average by time of week).
    """

    def __init__(
        self, values: np.ndarray, times: np.ndarray, step: TimeStep, train_end: int, weekly: bool = False
    ) -> None:
        self.values, self.times, self.step, self.train_end = values, times, step, train_end
        self.weekly = weekly
        self.seasons, self.n_seasons = season_index(times, step, weekly)

    @cached_property
    def climatology(self) -> Climatology:
        return Climatology.fit(self.values[: self.train_end], self.seasons[: self.train_end], self.n_seasons)

    @classmethod
    def from_parameters(
        cls, parameters: dict[str, np.ndarray], values: np.ndarray, times: np.ndarray, step: TimeStep, weekly: bool
    ) -> BaselineSet:
        """The baselines of a saved model (``parameters()`` fitted on its training period) on new ``values``
        float32[T, ...] (e.g. the readings up to a forecast origin); nothing is refitted."""
        baselines = cls(values, times, step, values.shape[0], weekly)
        means = parameters["climatology"].astype(np.float32)
        if means.shape[1:] != values.shape[1:] or means.shape[0] != baselines.n_seasons:
            raise ValueError(f"baseline parameters of shape {means.shape} do not fit values of shape {values.shape}")
        baselines.__dict__["climatology"] = Climatology(means)
        if "alpha" in parameters:
            baselines.__dict__["alpha"] = parameters["alpha"].astype(np.float32)
        if "ar_orders" in parameters:
            orders, coefficients = parameters["ar_orders"], parameters["ar_coefficients"]
            baselines.__dict__["ar_params"] = [
                row[: 1 + int(p)].astype(np.float64) for row, p in zip(coefficients, orders)
            ]
        return baselines

    def parameters(self, methods) -> dict[str, np.ndarray]:
        """What the baselines in ``methods`` learned from the training period, for a model file: ``climatology``
        float32[S, ...] (mean per season; always), ``alpha`` float32[...] (smoothing constants; with
        exponential_smoothing), ``ar_orders`` int32[N] and ``ar_coefficients`` float64[N, 1 + max order] (constant
        first, zero-padded) of the anomalies' AR models (with ar)."""
        parameters = {"climatology": self.climatology.means}
        if "exponential_smoothing" in methods:
            parameters["alpha"] = np.asarray(self.alpha, dtype=np.float32)
        if "ar" in methods:
            orders = np.array([p.size - 1 for p in self.ar_params], dtype=np.int32)
            coefficients = np.zeros((orders.size, 1 + int(orders.max(initial=0))))
            for row, p in zip(coefficients, self.ar_params):
                row[: p.size] = p
            parameters |= {"ar_orders": orders, "ar_coefficients": coefficients}
        return parameters

    @cached_property
    def alpha(self) -> np.ndarray:
        return fit_smoothing_alpha(self.values[: self.train_end])

    @cached_property
    def levels(self) -> np.ndarray:
        return smoothed_levels(self.values, self.alpha)

    @cached_property
    def filled(self) -> np.ndarray:
        return forward_filled(self.values)

    def future_seasons(self, origin: int, horizon: int) -> np.ndarray:
        from backend.forecast.windows import future_times

        times = future_times(self.times[origin], self.step, horizon)
        return season_index(times, self.step, self.weekly)[0]

    def last_valid(self, origin: int) -> np.ndarray:
        """Last observed value per cell at or before ``origin`` (persistence that skips gaps)."""
        return self.filled[origin]

    @cached_property
    def anomalies(self) -> np.ndarray:
        """Values minus the historical average, missing = 0 (float32[T, ...])."""
        return np.nan_to_num(self.values - self.climatology.at(self.seasons), nan=0.0).astype(np.float32)

    @cached_property
    def ar_params(self) -> list[np.ndarray]:
        flat = self.anomalies.reshape(self.values.shape[0], -1)
        return fit_ar(flat[: self.train_end], max_lag=min(24, max(1, self.train_end // 20)))

    def seasonal_period(self) -> int:
        """Steps in one week (sub-daily and daily data) or one year (coarser)."""
        period = WEEK_SECONDS if self.step.nominal_seconds <= 86400 else 365.25 * 86400
        return max(1, int(round(period / self.step.nominal_seconds)))

    def predict_many(self, name: str, origins: np.ndarray, horizon: int) -> np.ndarray:
        """float32[O, H, ...] forecasts from each origin."""
        offsets = np.arange(1, horizon + 1)
        if name == "seasonal_naive":
            period = self.seasonal_period()
            back = period * np.ceil(offsets / period).astype(int)
            index = np.maximum(origins[:, None] + offsets[None] - back[None], 0)
            return self.filled[index]
        if name == "ar":
            flat_shape = (origins.size, horizon, -1)
            anomaly = ar_forecast(self.ar_params, self.anomalies.reshape(self.values.shape[0], -1), origins, horizon)
            seasons = np.stack([self.future_seasons(int(o), horizon) for o in origins])
            return (self.climatology.at(seasons).reshape(flat_shape) + anomaly).reshape(
                (origins.size, horizon) + self.values.shape[1:]
            )
        if name == "historical_average":
            name = "climatology"
        return np.stack([self.predict(name, int(o), horizon) for o in origins])

    def predict(self, name: str, origin: int, horizon: int) -> np.ndarray:
        if name in ("seasonal_naive", "ar", "historical_average"):
            return self.predict_many(name, np.array([origin]), horizon)[0]
        if name == "persistence":
            return np.repeat(self.last_valid(origin)[None], horizon, axis=0)
        if name == "climatology":
            return self.climatology.at(self.future_seasons(origin, horizon))
        if name == "persisted_anomaly":
            anomaly = self.last_valid(origin) - self.climatology.at(self.seasons[origin : origin + 1])[0]
            return self.climatology.at(self.future_seasons(origin, horizon)) + anomaly[None]
        if name == "exponential_smoothing":
            return np.repeat(self.levels[origin][None], horizon, axis=0)
        raise ValueError(f"unknown baseline {name!r}; use one of {BASELINES}")


BASELINE_BYTES_PER_VALUE = 16  # peak working memory per value, input included (tracemalloc: 4–10 B + the input)


def baseline_forecast_chunk(block_thw: np.ndarray, times: np.ndarray, method: str, horizon: int) -> np.ndarray:
    """float32[H, h, w]: the ``method`` baseline's next ``horizon`` steps after the last of ``times`` for the cells
    of one chunk float32[T, h, w] (placed on its regular time axis first; every baseline works per cell)."""
    from backend.data.time_axis import on_regular_axis

    regular_times, values, step = on_regular_axis(times, block_thw)
    baselines = BaselineSet(values, regular_times, step, regular_times.size)
    return baselines.predict(method, regular_times.size - 1, horizon).astype(np.float32)
