"""Training, prediction and evaluation of sensor-network forecasters (graph GRU, ST Transformer, FC-LSTM).

Arrays are time-major: values float32[T, N] (NaN = missing). Windows, splits, normalisation and the
training loop are shared with the raster forecaster (``windows``, ``loop``). Scores are masked: missing
targets are left out; MAPE also leaves out zero targets.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from backend.data.seasons import season_index
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.baselines import NETWORK_BASELINES, BaselineSet, forward_filled
from backend.forecast.blend import Combination, blend_on_validation, finished, training_baselines
from backend.forecast.limits import check_model_sizes, require_training_memory
from backend.forecast.loop import POINT_LOSSES, epoch_chunks, fit, interval_coverage, loop_settings
from backend.forecast.windows import Normalisation, Split, calendar_features, check_length, future_times
from backend.progress import Reporter

N_CALENDAR = 6
# Baselines the network is blended with (seasonal naive is not: it needs a week of readings before every forecast
# origin, and at these horizons the historical average by time of week carries the same information).
BLEND_BASELINES = ("persistence", "historical_average", "exponential_smoothing", "ar")


@dataclass
class NetworkTrainConfig:
    architecture: str = "graph_gru"  # graph_gru | st_transformer | fc_lstm
    lookback: int = 12
    horizon: int = 12
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    hidden: int = 32
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    patience: int = 5
    seed: int = 0
    max_batches_per_epoch: int = 0  # 0 = every training window each epoch
    max_validation_windows: int = 1500  # validation windows scored each epoch (evenly spaced)
    time_budget_minutes: float = 0.0  # training ends within this (0 = no limit; see forecast.loop.BudgetPlan)
    profile_input: bool = True  # the network reads the historical average by time of week (learns on top of it)
    point_loss: str = "mae"  # the mean forecast's loss: "mae" (what the network's scores and blend use) or "mse"

    def check(self) -> None:
        from backend.forecast.sensors.architectures import NETWORK_ARCHITECTURES

        if self.architecture not in NETWORK_ARCHITECTURES:
            raise UserInputError(
                f"Unknown model type {self.architecture!r}; use one of {', '.join(NETWORK_ARCHITECTURES)}."
            )
        if self.lookback < 1 or self.horizon < 1 or self.epochs < 1 or self.batch_size < 1:
            raise UserInputError("Lookback, horizon, epochs and batch size must be at least 1.")
        if self.time_budget_minutes < 0:
            raise UserInputError("TIME_BUDGET is in minutes: 0 for no limit, or more.")
        if self.hidden < 4 or self.hidden % 4:
            raise UserInputError("The hidden size must be a multiple of 4 (the Transformer uses 4 attention heads).")
        if self.point_loss not in POINT_LOSSES:
            raise UserInputError(f"Unknown loss {self.point_loss!r}; use one of {', '.join(POINT_LOSSES)}.")
        check_model_sizes("Training", self.hidden, self.lookback, self.horizon)


@dataclass
class SensorArrays:
    """What the network reads: z (normalised, NaN→0), mask, last (forward-filled z) float32[T, N]; calendar
    features float32[T + H, 6] and, for a network that reads the profile, ``profile`` float32[T + H, N] (the
    historical average by time of week, normalised) — both run ``horizon`` steps past the last reading, for the
    forecast from the last origin; and what the baselines read: the readings float32[T, N] (NaN = missing) at
    ``times`` on ``step``."""

    z: np.ndarray
    mask: np.ndarray
    last: np.ndarray
    features: np.ndarray
    profile: np.ndarray | None
    norm: Normalisation
    values: np.ndarray
    times: np.ndarray
    step: TimeStep

    @classmethod
    def prepare(
        cls,
        values: np.ndarray,
        times: np.ndarray,
        step: TimeStep,
        norm: Normalisation,
        horizon: int,
        climatology: np.ndarray | None = None,
    ):
        """``climatology`` float32[S, N]: the means by step of the week of the training period (None: a network
        without the profile input)."""
        z = norm.apply(values.astype(np.float32))
        extended = np.concatenate([times, future_times(times[-1], step, horizon)])
        profile = None
        if climatology is not None:
            seasons, _ = season_index(extended, step, weekly=True)
            profile = np.nan_to_num(norm.apply(climatology[seasons]), nan=0.0).astype(np.float32)
        return cls(
            np.nan_to_num(z, nan=0.0),
            np.isfinite(z).astype(np.float32),
            np.nan_to_num(forward_filled(z), nan=0.0),
            calendar_features(extended, step),
            profile,
            norm,
            values,
            times,
            step,
        )

    def batch(self, origins: np.ndarray, lookback: int, horizon: int) -> tuple[tuple, np.ndarray]:
        """(inputs, last): inputs are x float32[B, L, N, C] (value, mask, [anomaly from the profile,] the F
        calendar features), future [B, H, F] and, with the profile, anchors [B, H, N] (the profile of the target
        steps minus the last value); last [B, N]."""
        index = origins[:, None] + np.arange(-lookback + 1, 1)[None]
        future_index = origins[:, None] + np.arange(1, horizon + 1)[None]
        z, m = self.z[index], self.mask[index]
        feats = np.broadcast_to(self.features[index][:, :, None], z.shape + (self.features.shape[1],))
        channels = [z[..., None], m[..., None]]
        last = self.last[origins]
        if self.profile is not None:
            channels.append((m * (z - self.profile[index]))[..., None])
        x = np.concatenate(channels + [feats], axis=-1).astype(np.float32)
        inputs = (x, self.features[future_index].astype(np.float32))
        if self.profile is not None:
            inputs += ((self.profile[future_index] - last[:, None]).astype(np.float32),)
        return inputs, last

    def targets(self, origins: np.ndarray, horizon: int):
        index = origins[:, None] + np.arange(1, horizon + 1)[None]
        return self.z[index], self.mask[index]


def predict_sensor_windows(
    network,
    arrays: SensorArrays,
    origins: np.ndarray,
    lookback: int,
    horizon: int,
    device: str,
    batch_size: int = 64,
    margins=None,
    combination: Combination | None = None,
):
    """(mean, low, high) float32[O, H, N] in data units for each origin: the network's, blended with the
    combination's baselines (run over the readings of ``arrays``) where ``combination`` says so."""
    import torch

    out = np.empty((origins.size, 3, horizon, arrays.z.shape[1]), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, origins.size, batch_size):
            chunk = origins[start : start + batch_size]
            inputs, last = arrays.batch(chunk, lookback, horizon)
            result = network(*(torch.from_numpy(a).to(device) for a in inputs))
            out[start : start + chunk.size] = result.cpu().numpy() + last[:, None, None]
    low, high = np.minimum(out[:, 1], out[:, 2]), np.maximum(out[:, 1], out[:, 2])
    forecast = tuple(arrays.norm.invert(a).astype(np.float32) for a in (out[:, 0], low, high))

    def baselines_of():
        return combination.baselines_on(arrays.values, arrays.times, arrays.step)

    return finished(forecast, origins, horizon, combination, baselines_of, margins, (1, -1, 1))


def _evenly(origins: np.ndarray, limit: int) -> np.ndarray:
    if limit and origins.size > limit:
        return origins[np.linspace(0, origins.size - 1, limit).round().astype(int)]
    return origins


def train_sensor_network(
    values: np.ndarray,
    times: np.ndarray,
    step: TimeStep,
    supports: np.ndarray,
    config: NetworkTrainConfig,
    device: str,
    reporter: Reporter | None = None,
):
    """Train on the training split, early stopping on validation RMSE, and blend with the baselines on the
    validation windows; returns (network, split, norm, history, combination).

    values float32[T, N]; supports float32[2, N, N] (transition matrices of the sensor graph).
    """
    import torch

    from backend.forecast.sensors.architectures import build_sensor_network

    reporter = reporter or Reporter()
    started = time.perf_counter()
    config.check()
    split = Split.by_fractions(values.shape[0], config.validation_fraction, config.test_fraction)
    check_length(values.shape[0], config.lookback, config.horizon, split)
    torch.manual_seed(config.seed)
    norm = Normalisation.fit(values[: split.train_end])
    require_training_memory(
        config.batch_size,
        config.lookback + config.horizon,
        values.shape[1],
        config.hidden,
        f"Training a {config.architecture} with {config.hidden} hidden units for {values.shape[1]} sensors",
    )
    baselines = BaselineSet(values, times, step, split.train_end, weekly=True)
    baselines.parameters(BLEND_BASELINES)  # fitted first (the AR models take a while), inside TIME_BUDGET
    climatology = baselines.climatology.means if config.profile_input else None
    arrays = SensorArrays.prepare(values, times, step, norm, config.horizon, climatology)
    network = build_sensor_network(
        config.architecture,
        supports,
        values.shape[1],
        config.lookback,
        config.horizon,
        config.hidden,
        N_CALENDAR,
        config.profile_input,
    ).to(device)
    train_origins = split.origins("train", config.lookback, config.horizon)
    val_origins = split.origins("validation", config.lookback, config.horizon)
    scored = _evenly(val_origins, config.max_validation_windows)
    truth = values[scored[:, None] + np.arange(1, config.horizon + 1)[None]]

    def batches(rng):
        for chunk in epoch_chunks(rng, train_origins, config.batch_size, config.max_batches_per_epoch):
            inputs, last = arrays.batch(chunk, config.lookback, config.horizon)
            yield (*inputs, last, *arrays.targets(chunk, config.horizon))

    def validate():
        mean, _, _ = predict_sensor_windows(network, arrays, scored, config.lookback, config.horizon, device)
        return float(np.sqrt(np.nanmean((mean - truth) ** 2)))

    n_inputs = 3 if config.profile_input else 2
    settings = loop_settings(config, train_origins.size, spent_before_s=time.perf_counter() - started)
    history = fit(network, settings, device, batches, validate, reporter, n_inputs)
    network_forecast = predict_sensor_windows(network, arrays, scored, config.lookback, config.horizon, device)
    combination, history.interval_margins = blend_on_validation(
        network_forecast, baselines, scored, truth, "mae", BLEND_BASELINES, reporter
    )
    return network, split, norm, history, combination


def masked_scores(forecast: np.ndarray, truth: np.ndarray) -> dict[str, list[float]]:
    """Per-horizon MAE, RMSE and MAPE (%) over valid targets; arrays float[O, H, N]."""
    error = forecast - truth
    valid = np.isfinite(error)
    nonzero = valid & (np.abs(truth) > 1e-6)

    def per_step(values, mask):
        counts = mask.sum(axis=(0, 2))
        return [float(v) for v in np.where(mask, values, 0).sum(axis=(0, 2)) / np.maximum(counts, 1)]

    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "mae": per_step(np.abs(error), valid),
            "rmse": [float(np.sqrt(v)) for v in per_step(error**2, valid)],
            "mape": [100 * v for v in per_step(np.abs(error) / np.abs(truth), nonzero)],
        }


@dataclass
class NetworkEvaluation:
    """Scores of the model and each baseline on the test windows (held out from training and early stopping)."""

    scores: dict[str, dict[str, list[float]]]  # method → metric → per horizon step
    skill_mae: list[float]  # 1 − MAE_model / MAE_best baseline, per step
    best_baseline: list[str]
    coverage_80: float
    windows: int
    station_mae: list[float]  # model MAE per sensor, all steps
    example: dict = field(default_factory=dict)  # a few series for plots

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("example")
        return out


def evaluate_sensor_network(
    network,
    values,
    times,
    step: TimeStep,
    split: Split,
    norm: Normalisation,
    config: NetworkTrainConfig,
    device: str,
    margins=None,
    combination: Combination | None = None,
) -> NetworkEvaluation:
    """Scores on the test windows of the model (the network blended by ``combination``; the network alone when
    None), of the network alone ("network") and of every baseline."""
    origins = split.origins("test", config.lookback, config.horizon)
    if origins.size == 0:
        raise UserInputError("No test window: use a test fraction above 0 or a longer series.")
    baselines = training_baselines(combination, values, times, step, split.train_end, weekly=True)
    climatology = baselines.climatology.means if config.profile_input else None
    arrays = SensorArrays.prepare(values, times, step, norm, config.horizon, climatology)
    network_forecast = predict_sensor_windows(network, arrays, origins, config.lookback, config.horizon, device)
    mean, low, high = finished(
        network_forecast, origins, config.horizon, combination, lambda: baselines, margins, (1, -1, 1)
    )
    truth = values[origins[:, None] + np.arange(1, config.horizon + 1)[None]]
    forecasts = {"model": mean}
    if combination is not None:
        forecasts["network"] = network_forecast[0]
    for name in NETWORK_BASELINES:
        forecasts[name] = baselines.predict_many(name, origins, config.horizon)
    scores = {name: masked_scores(f, truth) for name, f in forecasts.items()}
    best = [min(NETWORK_BASELINES, key=lambda b: scores[b]["mae"][h]) for h in range(config.horizon)]
    skill = [1.0 - scores["model"]["mae"][h] / scores[best[h]]["mae"][h] for h in range(config.horizon)]
    coverage = interval_coverage(truth, low, high)
    with np.errstate(invalid="ignore"):
        station = np.nanmean(np.abs(mean - truth), axis=(0, 1))
    first = origins[: min(origins.size, max(1, 4 * config.horizon))]
    example = {
        "origins": first,
        "model_h1": mean[: first.size, 0],
        "truth_h1": truth[: first.size, 0],
        "persistence_h1": forecasts["persistence"][: first.size, 0],
    }
    return NetworkEvaluation(
        scores,
        skill,
        best,
        coverage,
        int(origins.size),
        [float(v) for v in np.nan_to_num(station, nan=np.nan)],
        example,
    )
