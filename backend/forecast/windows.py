"""Sliding windows over a regular time axis, chronological splits, normalisation and time covariates.

A window at origin index ``o`` uses inputs ``values[o-L+1 .. o]`` and targets ``values[o+1 .. o+H]``.
Splits are by the targets' time: a window belongs to the split that holds all its target steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.data.time_step import TimeStep
from backend.errors import UserInputError


@dataclass(frozen=True)
class Split:
    """Chronological split of a length-T axis: [0, train_end) train, [train_end, val_end) validation, rest test."""

    length: int
    train_end: int
    val_end: int

    @classmethod
    def by_fractions(cls, length: int, validation_fraction: float, test_fraction: float) -> Split:
        if not 0 <= test_fraction < 0.5 or not 0 < validation_fraction < 0.5:
            raise UserInputError("Use a validation fraction in (0, 0.5) and a test fraction in [0, 0.5).")
        val_end = length - int(round(length * test_fraction))
        train_end = val_end - max(1, int(round(length * validation_fraction)))
        return cls(length, train_end, val_end)

    def origins(self, part: str, lookback: int, horizon: int) -> np.ndarray:
        """Origins of the windows whose targets all lie in ``part`` (train/validation/test).

        Inputs may come from earlier splits (a forecast made at a test origin sees the past).
        """
        low, high = {
            "train": (0, self.train_end),
            "validation": (self.train_end, self.val_end),
            "test": (self.val_end, self.length),
        }[part]
        origins = np.arange(lookback - 1, self.length - horizon)
        keep = (origins + 1 >= low) & (origins + horizon < high)
        return origins[keep]


def check_length(length: int, lookback: int, horizon: int, split: Split) -> None:
    needed = {part: split.origins(part, lookback, horizon).size for part in ("train", "validation")}
    if min(needed.values()) < 1 or needed["train"] < 8:
        raise UserInputError(
            f"The data have {length} time steps: too short for lookback {lookback} + horizon {horizon} with this "
            f"validation/test split ({needed['train']} training and {needed['validation']} validation windows). "
            "Use a longer series, or a shorter lookback or horizon."
        )


@dataclass(frozen=True)
class Normalisation:
    """z = (x − mean) / std, fitted on training time steps only."""

    mean: float
    std: float

    @classmethod
    def fit(cls, values_thw: np.ndarray) -> Normalisation:
        finite = values_thw[np.isfinite(values_thw)]
        if finite.size == 0:
            raise UserInputError("The training period holds no valid value.")
        std = float(finite.std())
        return cls(float(finite.mean()), std if std > 0 else 1.0)

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict) -> Normalisation:
        return cls(float(data["mean"]), float(data["std"]))

    def apply(self, values):
        return (values - self.mean) / self.std

    def invert(self, values):
        return values * self.std + self.mean


def time_features(times: np.ndarray, step: TimeStep) -> np.ndarray:
    """float32[T, 4]: sin/cos of the hour of day (zeros for daily or coarser data) and of the day of year."""
    seconds = times.astype("datetime64[s]").astype(np.int64)
    day_fraction = (seconds % 86400) / 86400.0
    day_of_year = (times.astype("datetime64[D]") - times.astype("datetime64[Y]")).astype(np.int64)
    year_angle = 2 * np.pi * (day_of_year + day_fraction) / 365.25
    day_angle = 2 * np.pi * day_fraction
    sub_daily = 1.0 if step.nominal_seconds < 86400 else 0.0
    return np.stack(
        [sub_daily * np.sin(day_angle), sub_daily * np.cos(day_angle), np.sin(year_angle), np.cos(year_angle)], axis=1
    ).astype(np.float32)


def future_times(last: np.datetime64, step: TimeStep, horizon: int) -> np.ndarray:
    """datetime64[s][horizon]: the ``horizon`` times after ``last`` (calendar months stay real dates)."""
    return step.times(last, horizon, first=1)


def calendar_features(times: np.ndarray, step: TimeStep) -> np.ndarray:
    """float32[T, 6]: sin/cos of time of day (zeros for daily or coarser data), day of week and day of year."""
    seconds = times.astype("datetime64[s]").astype(np.int64)
    day_fraction = (seconds % 86400) / 86400.0
    week_angle = 2 * np.pi * (((seconds // 86400) + 3) % 7 + day_fraction) / 7.0  # 1970-01-01 was a Thursday
    base = time_features(times, step)
    return np.concatenate(
        [base[:, :2], np.stack([np.sin(week_angle), np.cos(week_angle)], axis=1), base[:, 2:]], axis=1
    ).astype(np.float32)
