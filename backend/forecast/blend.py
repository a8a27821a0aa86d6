"""Per-horizon combination of a trained network with the baselines, fitted on the validation windows.

For every horizon step the weights are convex (≥ 0, sum 1) over the candidates ``names`` (the network first).
They are the best on the validation windows, by the forecaster's own metric, of: each candidate alone, the
least-squares convex combination and the least-absolute-error one (iteratively reweighted least squares from the
former). So on the windows it was fitted on the blend is never worse than the best single candidate — in
particular than the best baseline — and it uses the network only where the network helps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METRICS = ("mae", "rmse")
REFITTED_TEXT = (
    "The saved model's historical average (climatology) and smoothing constants are refitted on all the readings, "
    "the validation and test periods included, for its forecasts; the test scores were made with the training "
    "period's, so they describe the model before that refit."
)
MAX_FIT_VALUES = 400_000  # (window, location) pairs per horizon step used to fit the weights (evenly spaced)
IRLS_ITERATIONS = 12


def _error(prediction: np.ndarray, truth: np.ndarray, metric: str) -> float:
    residual = prediction - truth
    return float(np.mean(np.abs(residual)) if metric == "mae" else np.sqrt(np.mean(residual**2)))


def _convex_least_squares(parts: np.ndarray, truth: np.ndarray, row_weights: np.ndarray | None = None) -> np.ndarray:
    """float64[K] ≥ 0 summing to 1 minimising Σ row_weight · (parts @ w − truth)²; parts float64[n, K]."""
    from scipy.optimize import minimize

    k = parts.shape[1]
    weighted = parts if row_weights is None else parts * row_weights[:, None]
    gram = weighted.T @ parts / parts.shape[0]
    target = weighted.T @ truth / parts.shape[0]
    scale = max(float(np.trace(gram)) / k, 1e-12)  # a well-scaled objective for SLSQP
    result = minimize(
        lambda w: (w @ gram @ w - 2 * target @ w) / scale,
        np.full(k, 1.0 / k),
        jac=lambda w: (2 * gram @ w - 2 * target) / scale,
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        method="SLSQP",
        options={"maxiter": 200, "ftol": 1e-12},
    )
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum() if weights.sum() > 0 else np.full(k, 1.0 / k)


def _step_candidates(parts: np.ndarray, truth: np.ndarray, metric: str) -> list[np.ndarray]:
    """Weight vectors to choose from for one horizon step: each part alone, the least-squares blend and (for
    MAE) the least-absolute-error blend."""
    k = parts.shape[1]
    candidates = list(np.eye(k))
    if k == 1:
        return candidates
    weights = _convex_least_squares(parts, truth)
    candidates.append(weights)
    if metric == "mae":
        for _ in range(IRLS_ITERATIONS):
            residual = np.abs(parts @ weights - truth)
            weights = _convex_least_squares(parts, truth, 1.0 / np.maximum(residual, 1e-3 * residual.mean() + 1e-12))
        candidates.append(weights)
    return candidates


@dataclass
class HorizonBlend:
    """Convex weights per horizon step over the candidate forecasts ``names`` (the network first)."""

    names: list[str]
    weights: list[list[float]]  # [H][K]
    metric: str  # what the weights minimise on the validation windows: "mae" or "rmse"
    validation_scores: dict[str, list[float]]  # candidate (and "blend") → metric per horizon step

    @classmethod
    def fit(cls, forecasts: dict[str, np.ndarray], truth: np.ndarray, metric: str) -> HorizonBlend:
        """Weights from validation forecasts ``forecasts`` (name → float[O, H, ...], the network first) and the
        observed ``truth`` float[O, H, ...] (NaN = missing: left out)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}")
        names = list(forecasts)
        horizon = truth.shape[1]
        weights, scores = [], {name: [] for name in names + ["blend"]}
        for h in range(horizon):
            parts = np.stack([np.asarray(forecasts[name][:, h], np.float64).ravel() for name in names], axis=1)
            target = np.asarray(truth[:, h], np.float64).ravel()
            usable = np.isfinite(target) & np.isfinite(parts).all(axis=1)
            parts, target = parts[usable], target[usable]
            if target.size > MAX_FIT_VALUES:
                keep = np.linspace(0, target.size - 1, MAX_FIT_VALUES).round().astype(int)
                parts, target = parts[keep], target[keep]
            if target.size == 0:  # nothing to fit on: the network alone
                weights.append([1.0] + [0.0] * (len(names) - 1))
                for name in scores:
                    scores[name].append(float("nan"))
                continue
            candidates = _step_candidates(parts, target, metric)
            errors = [_error(parts @ w, target, metric) for w in candidates]
            best = candidates[int(np.argmin(errors))]
            weights.append([float(v) for v in best])
            for i, name in enumerate(names):
                scores[name].append(errors[i])
            scores["blend"].append(float(min(errors)))
        return cls(names, weights, metric, scores)

    def combine(self, forecasts: dict[str, np.ndarray]) -> np.ndarray:
        """float32[O, H, ...]: the weighted forecast; where a candidate is missing (NaN) the others' weights are
        scaled up to sum 1 (NaN where every weighted candidate is missing)."""
        total = weight_sum = None
        for k, name in enumerate(self.names):
            w = np.asarray([row[k] for row in self.weights], np.float32)
            if not w.any():
                continue
            part = np.asarray(forecasts[name], np.float32)
            w = w.reshape((1, -1) + (1,) * (part.ndim - 2))
            finite = np.isfinite(part)
            term = np.where(finite, part, 0.0) * w
            present = finite * w
            total = term if total is None else total + term
            weight_sum = present if weight_sum is None else weight_sum + present
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight_sum > 0, total / weight_sum, np.nan).astype(np.float32)

    @property
    def baselines(self) -> list[str]:
        """The baselines the blend uses at some step (their forecasts are needed to combine)."""
        return [name for k, name in enumerate(self.names[1:], start=1) if any(row[k] > 0 for row in self.weights)]

    def leaders(self) -> list[str]:
        """Per horizon step, the candidate with the largest weight."""
        return [self.names[int(np.argmax(row))] for row in self.weights]

    def describe_step(self, h: int) -> str:
        """e.g. "network 0.62, ar 0.31, historical_average 0.07" (weights ≥ 0.01, largest first)."""
        pairs = sorted(zip(self.weights[h], self.names), reverse=True)
        return ", ".join(f"{name} {w:.2f}" for w, name in pairs if w >= 0.01)

    def summary(self) -> str:
        """One line: per horizon step the weights, e.g. "+1: network 0.81, ar 0.19; +2: …"."""
        return "; ".join(f"+{h + 1}: {self.describe_step(h)}" for h in range(len(self.weights)))

    def to_dict(self) -> dict:
        return {
            "names": self.names,
            "weights": self.weights,
            "metric": self.metric,
            "validation_scores": self.validation_scores,
        }

    @classmethod
    def from_dict(cls, data: dict) -> HorizonBlend:
        names = [str(n) for n in data["names"]]
        weights = [[float(v) for v in row] for row in data["weights"]]
        if any(len(row) != len(names) for row in weights):
            raise ValueError("blend weights do not match the candidate names")
        return cls(names, weights, str(data["metric"]), dict(data.get("validation_scores") or {}))


def recentred(mean: np.ndarray, network_mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple:
    """The network's quantile band moved with its mean onto the blended ``mean`` (widths kept)."""
    shift = mean - network_mean
    return low + shift, high + shift


@dataclass
class Combination:
    """What a model file needs to blend at forecast time: the weights and the baselines' fitted parameters
    (``BaselineSet.parameters``; they are refitted on nothing at forecast time, so a forecast from only the recent
    readings gives the baselines the model was blended with)."""

    blend: HorizonBlend
    parameters: dict[str, np.ndarray]
    weekly: bool  # seasons by step of the week (sensor networks) rather than hour of day
    fitted: object = field(default=None, repr=False, compare=False)  # the training's BaselineSet (not saved)

    def baselines_on(self, values: np.ndarray, times: np.ndarray, step):
        """The saved baselines (``BaselineSet``) run over ``values`` float32[T, ...] at ``times``."""
        from backend.forecast.baselines import BaselineSet

        return BaselineSet.from_parameters(self.parameters, values, times, step, self.weekly)

    def refitted_on(self, values: np.ndarray, times: np.ndarray, step) -> Combination:
        """For the saved model, once it is scored: the climatology (historical average) and smoothing constants
        refitted on every reading ``values`` float32[T, ...] (the validation and test periods too: more weeks per
        season); the AR models and the weights are kept."""
        from backend.forecast.baselines import BaselineSet

        everything = BaselineSet(values, times, step, values.shape[0], self.weekly)
        parameters = dict(self.parameters) | {"climatology": everything.climatology.means}
        if "alpha" in parameters:
            parameters["alpha"] = np.asarray(everything.alpha, dtype=np.float32)
        return Combination(self.blend, parameters, self.weekly)

    def to_dict(self) -> dict:
        return self.blend.to_dict() | {"weekly": self.weekly}

    @classmethod
    def from_dict(cls, data: dict, parameters: dict[str, np.ndarray]) -> Combination:
        return cls(HorizonBlend.from_dict(data), parameters, bool(data.get("weekly", False)))


def blended(blend: HorizonBlend, baselines, network_forecast: tuple, origins: np.ndarray, horizon: int) -> tuple:
    """(mean, low, high) float32[O, H, ...]: the network's (mean, low, high) from ``origins`` combined with the
    forecasts of the baselines ``blend`` uses, the interval moved with the mean."""
    mean, low, high = network_forecast
    parts = {"network": mean} | {name: baselines.predict_many(name, origins, horizon) for name in blend.baselines}
    combined = blend.combine(parts)
    return (combined, *recentred(combined, mean, low, high))


def finished(forecast: tuple, origins: np.ndarray, horizon: int, combination, baselines_of, margins, shape) -> tuple:
    """A network's (mean, low, high) in data units blended by ``combination`` (None: the network alone) with the
    baselines ``baselines_of()`` gives, then the interval widened by the calibrated ``margins`` (None: none)
    broadcast as ``shape``."""
    from backend.forecast.loop import widen

    mean, low, high = forecast
    if combination is not None:
        mean, low, high = blended(combination.blend, baselines_of(), forecast, origins, horizon)
    if margins is not None:
        low, high = widen(mean, low, high, margins, shape)
    return mean, low, high


def blend_on_validation(
    network_forecast: tuple, baselines, origins: np.ndarray, truth: np.ndarray, metric: str, names, reporter
) -> tuple[Combination, list[float]]:
    """After training: the blend of the network's validation forecasts (``network_forecast`` = its (mean, low,
    high) float32[O, H, ...] from ``origins``) with the baselines ``names`` of ``baselines`` (a ``BaselineSet``
    fitted on the training period), fitted against ``truth`` float32[O, H, ...] and logged, with those baselines'
    parameters for the model file; and the conformal margins (data units, per step) that make the blend's 10–90 %
    interval cover 80 % of those targets."""
    from backend.forecast.loop import conformal_margins

    mean, low, high = network_forecast
    horizon = truth.shape[1]
    parts = {"network": mean} | {name: baselines.predict_many(name, origins, horizon) for name in names}
    blend = HorizonBlend.fit(parts, truth, metric)
    combination = Combination(blend, baselines.parameters(blend.baselines), baselines.weekly, baselines)
    reporter.log("Blend with the baselines per step (weights fitted on the validation windows): " + blend.summary())
    combined = blend.combine(parts)  # the baselines' forecasts computed once, for the fit and the margins
    return combination, conformal_margins(*recentred(combined, mean, low, high), truth)


def training_baselines(combination: Combination | None, values: np.ndarray, times, step, train_end: int, weekly: bool):
    """The baselines (``BaselineSet``) fitted on ``values[:train_end]``: the training's own when ``combination``
    was fitted with them on these same values (the AR models take a while to fit), else fitted now."""
    from backend.forecast.baselines import BaselineSet

    fitted = combination.fitted if combination is not None else None
    if fitted is not None and fitted.values is values and fitted.train_end == train_end and fitted.weekly == weekly:
        return fitted
    return BaselineSet(values, times, step, train_end, weekly)
