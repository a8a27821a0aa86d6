"""Weighted least-squares fit of space-time variogram models (gstat ``fit.StVariogram``).

Weights follow gstat's ``fit.method``: 1 N_j, 2 N_j/γ², 6 none (OLS), 7 N_j/(h² + (stAni·u)²),
8 N_j/h², 9 N_j/u², 10 1/γ², 11 1/(h² + (stAni·u)²). Parameters are optimised with L-BFGS-B in
scaled form (each divided by its starting value) within gstat's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from backend.errors import UserInputError
from backend.kriging.basic_models import BasicVariogram
from backend.kriging.sample_variogram import SampleVariogram
from backend.kriging.st_models import ST_MODELS, SpaceTimeModel, extract_parameters, insert_parameters, parameter_names

FIT_METHODS = (1, 2, 6, 7, 8, 9, 10, 11)


def _weights(method: int, v: SampleVariogram, gamma_model: np.ndarray, st_ani: float | None) -> np.ndarray:
    def floor_zero(x):
        x = x.astype(float).copy()
        positive = x[x > 0]
        x[x == 0] = positive.min() if positive.size else 1.0
        return x

    if method == 1:
        return v.np.astype(float)
    if method in (2, 10):
        base = v.np if method == 2 else 1.0
        return base / np.maximum(gamma_model, 1e-12) ** 2
    if method == 6:
        return np.ones_like(v.gamma)
    if method in (7, 11):
        base = v.np if method == 7 else 1.0
        return base / np.maximum(v.dist**2 + ((st_ani or 1.0) * v.timelag) ** 2, 1e-12)
    if method == 8:
        return v.np / floor_zero(v.dist) ** 2
    if method == 9:
        return v.np / floor_zero(v.timelag) ** 2
    raise UserInputError(f"fit method {method} is not supported; use one of {FIT_METHODS}.")


def initial_model(
    kind: str, v: SampleVariogram, basic: str = "Exp", kappa: float = 0.5, time_unit: str = "day"
) -> SpaceTimeModel:
    """Starting values read off the sample variogram (sill, ranges at ⅓ of the lags, stAni)."""
    v = v.valid()
    sill = float(np.average(v.gamma, weights=v.np))
    spatial = v.timelag == 0
    pure_time = v.dist == 0
    nug_s = float(v.gamma[spatial & (v.dist > 0)][0]) * 0.5 if (spatial & (v.dist > 0)).any() else 0.1 * sill
    range_s = max(float(v.dist.max()) / 3.0, 1e-9)
    range_t = max(float(v.timelag.max()) / 3.0, 1e-9)
    gamma_t = float(v.gamma[pure_time & (v.timelag > 0)].mean()) if (pure_time & (v.timelag > 0)).any() else sill / 2
    st_ani = range_s / range_t
    nug_frac = min(max(nug_s / sill, 0.05), 0.5)
    model = _initial(kind, basic, kappa, sill, nug_frac, nug_s, range_s, range_t, gamma_t, st_ani)
    model.time_unit = time_unit
    return model


def _initial(kind, basic, kappa, sill, nug_frac, nug_s, range_s, range_t, gamma_t, st_ani) -> SpaceTimeModel:
    def vg(psill, range_, nugget):
        return BasicVariogram.of(basic, psill, range_, nugget, kappa)

    if kind == "separable":
        return SpaceTimeModel(
            kind, space=vg(1 - nug_frac, range_s, nug_frac), time=vg(1 - nug_frac, range_t, nug_frac), sill=sill
        )
    if kind == "productSum":
        return SpaceTimeModel(
            kind, space=vg(sill * 0.5, range_s, sill * 0.05), time=vg(gamma_t * 0.5, range_t, sill * 0.05), k=1.0 / sill
        )
    if kind == "metric":
        return SpaceTimeModel(kind, joint=vg(sill * (1 - nug_frac), range_s, sill * nug_frac), stAni=st_ani)
    third = sill / 3.0
    if kind == "sumMetric":
        return SpaceTimeModel(
            kind,
            space=vg(third, range_s, third * 0.1),
            time=vg(third, range_t, third * 0.1),
            joint=vg(third, range_s, third * 0.1),
            stAni=st_ani,
        )
    if kind == "simpleSumMetric":
        return SpaceTimeModel(
            kind,
            space=vg(third, range_s, 0),
            time=vg(third, range_t, 0),
            joint=vg(third, range_s, 0),
            nugget=sill * 0.1,
            stAni=st_ani,
        )
    raise UserInputError(f"Unknown space-time model {kind!r}; use one of {', '.join(ST_MODELS)}.")


def _bounds(kind: str, v: SampleVariogram) -> list[tuple[float, float]]:
    min_s = float(v.dist[v.dist > 0].min()) * 0.05 if (v.dist > 0).any() else 1e-6
    positive_lags = v.timelag[v.timelag > 0]
    min_t = float(positive_lags.min()) * 0.05 if positive_lags.size else 1e-6
    pos = float(np.sqrt(np.finfo(float).eps))
    bounds = []
    for name in parameter_names(kind):
        if name.startswith("range"):
            bounds.append((min_t if name.endswith(".t") else min_s, np.inf))
        elif kind == "separable" and name.startswith("nugget"):
            bounds.append((0.0, 1.0))
        elif name in ("k", "anis"):
            bounds.append((pos, np.inf))
        else:
            bounds.append((0.0, np.inf))
    return bounds


@dataclass
class FitResult:
    model: SpaceTimeModel
    mse: float  # unweighted mean squared error (gstat's attr "MSE")
    weighted_error: float  # the minimised objective
    converged: bool
    message: str


def fit_model(v: SampleVariogram, start: SpaceTimeModel, fit_method: int = 6) -> FitResult:
    """Fit ``start``'s parameters to the sample variogram by weighted least squares."""
    v = v.valid()
    if v.gamma.size < len(parameter_names(start.stModel)):
        raise UserInputError(
            f"Only {v.gamma.size} non-empty variogram bins for {len(parameter_names(start.stModel))} "
            "parameters; use more time lags or narrower spatial bins."
        )
    if fit_method not in FIT_METHODS:
        raise UserInputError(f"fit method {fit_method} is not supported; use one of {FIT_METHODS}.")
    p0 = extract_parameters(start)
    scale = np.where(np.abs(p0) > 0, np.abs(p0), 1.0)
    bounds = [(lo / s, hi / s) for (lo, hi), s in zip(_bounds(start.stModel, v), scale)]
    x0 = np.clip(p0 / scale, [b[0] for b in bounds], [b[1] for b in bounds])

    def objective(x):
        model = insert_parameters(start, x * scale)
        gamma_model = model.gamma(v.dist, v.timelag)
        weights = _weights(fit_method, v, gamma_model, model.stAni)
        value = float(np.mean(weights * (v.gamma - gamma_model) ** 2))
        return value if np.isfinite(value) else 1e300

    result = minimize(objective, x0, method="L-BFGS-B", bounds=bounds)
    model = insert_parameters(start, result.x * scale)
    mse = float(np.mean((v.gamma - model.gamma(v.dist, v.timelag)) ** 2))
    model.fit = {
        "fit_method": fit_method,
        "mse": mse,
        "weighted_error": float(result.fun),
        "converged": bool(result.success),
        "bins": int(v.gamma.size),
    }
    return FitResult(model, mse, float(result.fun), bool(result.success), str(result.message))
