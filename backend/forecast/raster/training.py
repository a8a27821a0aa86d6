"""Training and evaluation of raster forecasters (torch), against the baselines on the same windows.

Inputs are normalised with training statistics; the network predicts the change from the last
observed frame. Losses are masked where targets are no data. Early stopping on validation RMSE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.baselines import BASELINES, BaselineSet, forward_filled
from backend.forecast.blend import Combination, blend_on_validation, finished, training_baselines
from backend.forecast.limits import check_model_sizes, require_training_memory
from backend.forecast.loop import epoch_chunks, fit, interval_coverage, loop_settings
from backend.forecast.windows import Normalisation, Split, check_length, time_features
from backend.progress import Reporter

# Baselines the network is blended with: those a forecast from the stack's last steps (forecastraster reads only
# the lookback and each cell's last earlier value) computes exactly; exponential smoothing needs the whole history.
BLEND_BASELINES = ("persistence", "climatology", "persisted_anomaly")


@dataclass
class TrainConfig:
    architecture: str = "convlstm"  # convlstm | cnnlstm
    lookback: int = 12
    horizon: int = 6
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 2e-3
    hidden: int = 32
    patch: int = 64  # training crops (pixels); frames up to this size are used whole
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    patience: int = 6
    seed: int = 0
    max_batches_per_epoch: int = 0  # 0 = all training windows each epoch
    time_budget_minutes: float = 0.0  # training ends within this (0 = no limit; see forecast.loop.BudgetPlan)


@dataclass
class Prepared:
    """Arrays the network reads: z (normalised, NaN→0) and mask float32[T, H, W], time features [T, 4]; and what
    the baselines read: the stack ``values`` float32[T, H, W] (NaN = no data) at ``times`` on ``step``."""

    z: np.ndarray
    mask: np.ndarray
    last: np.ndarray
    features: np.ndarray
    norm: Normalisation
    values: np.ndarray
    times: np.ndarray
    step: TimeStep


def prepare(values: np.ndarray, times: np.ndarray, step: TimeStep, norm: Normalisation) -> Prepared:
    z = norm.apply(values.astype(np.float32))
    mask = np.isfinite(z).astype(np.float32)
    last = np.nan_to_num(forward_filled(z), nan=0.0)
    return Prepared(np.nan_to_num(z, nan=0.0), mask, last, time_features(times, step), norm, values, times, step)


def window_batch(
    p: Prepared,
    origins: np.ndarray,
    lookback: int,
    horizon: int,
    future_features=None,
    crop: tuple[int, int, int, int] | None = None,
):
    """Numpy arrays for a batch: x [B, L, 6, h, w], future [B, H, 4], last [B, h, w]."""
    rows = slice(None) if crop is None else slice(crop[0], crop[0] + crop[2])
    cols = slice(None) if crop is None else slice(crop[1], crop[1] + crop[3])
    index = origins[:, None] + np.arange(-lookback + 1, 1)[None]
    z, m = p.z[index][..., rows, cols], p.mask[index][..., rows, cols]
    feats = np.broadcast_to(p.features[index][..., None, None], index.shape + (4,) + z.shape[-2:])
    x = np.concatenate([z[:, :, None], m[:, :, None], feats], axis=2).astype(np.float32)
    if future_features is None:
        future_features = p.features[origins[:, None] + np.arange(1, horizon + 1)[None]]
    return x, future_features.astype(np.float32), p.last[origins][..., rows, cols]


def _tiles(size: int, tile: int, halo: int):
    """(core start, core stop, read start, read stop) along one axis."""
    for start in range(0, size, tile):
        stop = min(size, start + tile)
        yield start, stop, max(0, start - halo), min(size, stop + halo)


def predict_windows(
    network,
    p: Prepared,
    origins: np.ndarray,
    lookback: int,
    horizon: int,
    device: str,
    batch_size: int = 16,
    future_features=None,
    margins=None,
    tile: int = 256,
    combination: Combination | None = None,
):
    """Forecasts in data units for each origin: (mean, low, high) each float32[N, H, Ht, Wd].

    Frames larger than ``tile`` are predicted tile by tile with a halo as wide as the network's receptive
    field, which gives the same values as the whole frame in bounded memory. ``combination`` blends the network
    with the baselines (its saved ones, run over the stack). ``margins`` float[H] (data units) widen the quantile
    interval (calibrated on validation windows).
    """
    import torch

    network.eval()
    height, width = p.z.shape[1:]
    halo = network.receptive_radius(lookback)
    z = np.empty((origins.size, 3, horizon, height, width), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, origins.size, batch_size):
            chunk = origins[start : start + batch_size]
            ff = None if future_features is None else future_features[start : start + batch_size]
            for r0, r1, rr0, rr1 in _tiles(height, tile, halo):
                for c0, c1, cc0, cc1 in _tiles(width, tile, halo):
                    x, future, last = window_batch(
                        p, chunk, lookback, horizon, ff, crop=(rr0, cc0, rr1 - rr0, cc1 - cc0)
                    )
                    out = (
                        network(
                            torch.from_numpy(np.ascontiguousarray(x)).to(device), torch.from_numpy(future).to(device)
                        )
                        .cpu()
                        .numpy()
                        + last[:, None, None]
                    )
                    z[start : start + chunk.size, :, :, r0:r1, c0:c1] = out[
                        ..., r0 - rr0 : r1 - rr0, c0 - cc0 : c1 - cc0
                    ]
    low, high = np.minimum(z[:, 1], z[:, 2]), np.maximum(z[:, 1], z[:, 2])
    forecast = tuple(p.norm.invert(a).astype(np.float32) for a in (z[:, 0], low, high))

    def baselines_of():
        return combination.baselines_on(p.values, p.times, p.step)

    return finished(forecast, origins, horizon, combination, baselines_of, margins, (1, -1, 1, 1))


def train_raster_model(
    values: np.ndarray,
    times: np.ndarray,
    step: TimeStep,
    config: TrainConfig,
    device: str,
    reporter: Reporter | None = None,
):
    """Train on the training split with early stopping on validation RMSE, and blend with the baselines on the
    validation windows; returns (network, split, norm, history, combination)."""
    import torch

    from backend.forecast.raster.architectures import ARCHITECTURES, build_raster_model

    reporter = reporter or Reporter()
    if config.architecture not in ARCHITECTURES:
        raise UserInputError(f"Unknown model type {config.architecture!r}; use one of {', '.join(ARCHITECTURES)}.")
    if config.lookback < 1 or config.horizon < 1 or config.epochs < 1:
        raise UserInputError("Lookback, horizon and epochs must be at least 1.")
    if config.time_budget_minutes < 0:
        raise UserInputError("TIME_BUDGET is in minutes: 0 for no limit, or more.")
    check_model_sizes("Training", config.hidden, config.lookback, config.horizon)
    crop_pixels = min(config.patch, values.shape[1]) * min(config.patch, values.shape[2])
    require_training_memory(
        config.batch_size,
        config.lookback + config.horizon,
        crop_pixels,
        config.hidden,
        f"Training a {config.architecture} with {config.hidden} hidden channels",
    )
    t = values.shape[0]
    split = Split.by_fractions(t, config.validation_fraction, config.test_fraction)
    check_length(t, config.lookback, config.horizon, split)
    torch.manual_seed(config.seed)
    norm = Normalisation.fit(values[: split.train_end])
    p = prepare(values, times, step, norm)
    network = build_raster_model(config.architecture, config.horizon, config.hidden).to(device)
    train_origins = split.origins("train", config.lookback, config.horizon)
    val_origins = split.origins("validation", config.lookback, config.horizon)
    height, width = values.shape[1:]
    ph, pw = min(config.patch, height), min(config.patch, width)
    offsets = np.arange(1, config.horizon + 1)[None]

    def batches(rng):
        for chunk in epoch_chunks(rng, train_origins, config.batch_size, config.max_batches_per_epoch):
            r, c = int(rng.integers(0, height - ph + 1)), int(rng.integers(0, width - pw + 1))
            x, future, last = window_batch(p, chunk, config.lookback, config.horizon, crop=(r, c, ph, pw))
            target_index = chunk[:, None] + offsets
            yield (
                x,
                future,
                last,
                p.z[target_index][..., r : r + ph, c : c + pw],
                p.mask[target_index][..., r : r + ph, c : c + pw],
            )

    def validate():
        mean, _, _ = predict_windows(network, p, val_origins, config.lookback, config.horizon, device)
        return float(np.sqrt(np.nanmean((mean - values[val_origins[:, None] + offsets]) ** 2)))

    history = fit(network, loop_settings(config, train_origins.size), device, batches, validate, reporter)
    network_forecast = predict_windows(network, p, val_origins, config.lookback, config.horizon, device)
    truth = values[val_origins[:, None] + offsets]
    baselines = BaselineSet(values, times, step, split.train_end)
    combination, history.interval_margins = blend_on_validation(
        network_forecast, baselines, val_origins, truth, "rmse", BLEND_BASELINES, reporter
    )
    return network, split, norm, history, combination


@dataclass
class Evaluation:
    """Per-horizon RMSE/MAE of the model and each baseline on the test windows, skill and interval coverage."""

    rmse: dict[str, list[float]]
    mae: dict[str, list[float]]
    skill: list[float]
    best_baseline: list[str]
    coverage_80: float
    windows: int
    error_map: np.ndarray  # float32[H, W]: RMSE of the model at horizon 1 per cell

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("error_map")
        return out


def evaluate(
    network,
    values,
    times,
    step: TimeStep,
    split: Split,
    norm: Normalisation,
    config: TrainConfig,
    device: str,
    margins=None,
    combination: Combination | None = None,
) -> Evaluation:
    """Scores on the test windows of the model (the network blended by ``combination``; the network alone when
    None), of the network alone ("network") and of every baseline."""
    origins = split.origins("test", config.lookback, config.horizon)
    if origins.size == 0:
        raise UserInputError("No test window: use a test fraction > 0 or a longer stack.")
    p = prepare(values, times, step, norm)
    baselines = training_baselines(combination, values, times, step, split.train_end, weekly=False)
    network_forecast = predict_windows(network, p, origins, config.lookback, config.horizon, device)
    mean, low, high = finished(
        network_forecast, origins, config.horizon, combination, lambda: baselines, margins, (1, -1, 1, 1)
    )
    truth = values[origins[:, None] + np.arange(1, config.horizon + 1)[None]]
    forecasts = {"model": mean}
    if combination is not None:
        forecasts["network"] = network_forecast[0]
    for name in BASELINES:
        forecasts[name] = np.stack([baselines.predict(name, int(o), config.horizon) for o in origins])

    def per_horizon(errors):
        return [float(v) for v in np.sqrt(np.nanmean(errors**2, axis=(0, 2, 3)))]

    rmse = {name: per_horizon(f - truth) for name, f in forecasts.items()}
    mae = {name: [float(v) for v in np.nanmean(np.abs(f - truth), axis=(0, 2, 3))] for name, f in forecasts.items()}
    best = [min(BASELINES, key=lambda b: rmse[b][h]) for h in range(config.horizon)]
    skill = [1.0 - rmse["model"][h] / rmse[best[h]][h] for h in range(config.horizon)]
    coverage = interval_coverage(truth, low, high)
    error_map = np.sqrt(np.nanmean((mean[:, 0] - truth[:, 0]) ** 2, axis=0)).astype(np.float32)
    return Evaluation(rmse, mae, skill, best, coverage, int(origins.size), error_map)
