"""Evaluating several forecasts of the same locations against observations: the error of each per location and
the best one per location (as ArcGIS Pro's Evaluate Forecasts by Location)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.errors import UserInputError


@dataclass
class ForecastEvaluation:
    """``rmse``, ``mae`` float64[S, N] of each of S forecasts at N locations over the observed steps they share
    (NaN = no observed step); ``matched`` int[S, N] those steps; ``best`` int[N] the forecast of smallest RMSE per
    location (−1 = none could be scored)."""

    rmse: np.ndarray
    mae: np.ndarray
    matched: np.ndarray
    best: np.ndarray


def evaluate_forecasts(forecasts: np.ndarray, observed: np.ndarray) -> ForecastEvaluation:
    """Scores of S forecasts float[S, N, T] (NaN = no forecast) against observations float[N, T] (NaN = not
    observed) on one time axis of T steps; a forecast is scored on the steps where it and the observation exist,
    and the best per location is chosen among the forecasts scored on the most steps there (a forecast that
    leaves out the hard days cannot win by it); ties go to the earlier forecast."""
    if forecasts.ndim != 3 or forecasts.shape[1:] != observed.shape:
        raise UserInputError("Forecasts and observations must cover the same locations and times.")
    errors = forecasts - observed[None]
    usable = np.isfinite(errors)
    matched = usable.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt(np.where(usable, errors**2, 0.0).sum(axis=2) / matched)
        mae = np.where(usable, np.abs(errors), 0.0).sum(axis=2) / matched
    rmse, mae = np.where(matched > 0, rmse, np.nan), np.where(matched > 0, mae, np.nan)
    most = matched.max(axis=0)
    eligible = (matched == most[None]) & (most[None] > 0) & np.isfinite(rmse)
    best = np.argmin(np.where(eligible, rmse, np.inf), axis=0)
    best = np.where(eligible.any(axis=0), best, -1)
    return ForecastEvaluation(rmse, mae, matched, best)
