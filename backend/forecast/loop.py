"""The training loop shared by the raster and sensor-network forecasters.

Networks output [B, 3, H, ...]: the change from the last observed value (mean) and the 10 % / 90 %
quantiles. The loss is masked MSE + pinball losses; Adam with cosine learning-rate decay, gradient
clipping, early stopping on a validation score, the best epoch's weights kept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from backend.progress import Reporter

QUANTILES = (0.1, 0.9)
POINT_LOSSES = ("mse", "mae")


def masked_loss(torch, out, last, target, mask, point: str = "mse"):
    """Squared (``point`` "mse") or absolute ("mae") error of the mean + pinball loss of each quantile, over valid
    targets only."""
    mean = last[:, None] + out[:, 0]
    count = mask.sum().clamp(min=1.0)
    error = (mean - target) ** 2 if point == "mse" else (mean - target).abs()
    loss = (error * mask).sum() / count
    for i, q in enumerate(QUANTILES, start=1):
        error = target - (last[:, None] + out[:, i])
        loss = loss + (torch.maximum(q * error, (q - 1) * error) * mask).sum() / count
    return loss


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    validation_rmse: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    interval_margins: list[float] = field(default_factory=list)  # data units, per horizon step


@dataclass
class LoopSettings:
    epochs: int
    learning_rate: float
    patience: int
    seed: int
    batches_per_epoch: int = 0  # for progress within an epoch and the run-time estimate (0 = unknown)
    time_budget_s: float = 0.0  # training (with its validations) ends within this (0 = no limit)
    point_loss: str = "mse"  # the mean forecast's loss (POINT_LOSSES)
    spent_before_s: float = 0.0  # of the time budget, used before the loop (fitting the baselines)


BUDGET_RESERVE = 0.1  # of TIME_BUDGET, left for the test scores, the baselines and the files after training
MIN_BUDGET_EPOCHS = 4  # under a tight budget, shorter epochs rather than fewer than this
PLAN_AFTER_BATCHES = 5  # batches timed before the budget plan is made


@dataclass
class BudgetPlan:
    """What fits a time budget: ``epochs`` of ``batches`` each, from the measured seconds per batch and per
    validation."""

    epochs: int
    batches: int
    batch_s: float
    validation_s: float

    @classmethod
    def of(
        cls,
        settings: LoopSettings,
        elapsed_s: float,
        batch_s: float,
        validation_s: float,
        min_epochs: int = MIN_BUDGET_EPOCHS,
    ) -> BudgetPlan:
        """The plan of a run that has used ``elapsed_s`` of its budget: as many of the asked epochs as fit with
        every batch; where fewer than ``min_epochs`` would, that many epochs of fewer batches; at least one epoch
        of one batch."""
        left = max(0.0, settings.time_budget_s * (1.0 - BUDGET_RESERVE) - elapsed_s)
        batches = max(1, settings.batches_per_epoch)
        fitting = int(left // (batches * batch_s + validation_s))
        if fitting >= min(settings.epochs, min_epochs):
            return cls(min(fitting, settings.epochs), batches, batch_s, validation_s)
        epochs = min(settings.epochs, min_epochs)
        shorter = int((left / epochs - validation_s) // max(batch_s, 1e-9))
        if shorter < 1:
            epochs, shorter = 1, int((left - validation_s) // max(batch_s, 1e-9))
        return cls(epochs, max(1, min(batches, shorter)), batch_s, validation_s)

    def describe(self, settings: LoopSettings) -> str:
        return (
            f"TIME_BUDGET {settings.time_budget_s / 60:g} min: a batch takes {self.batch_s:.2g} s and a validation "
            f"{self.validation_s:.2g} s here, so {self.epochs} epoch(s) of {self.batches} batches are trained "
            f"(asked: {settings.epochs} of {settings.batches_per_epoch}); the best epoch's weights are kept."
        )


LONG_RUN_SECONDS = 600  # a training estimated longer than this on the CPU gets a warning with what to change
PROGRESS_EVERY_SECONDS = 1.0


class TrainingClock:
    """Progress within epochs, the remaining time, and one warning when the whole run looks long on the CPU."""

    def __init__(self, settings: LoopSettings, device: str, reporter: Reporter) -> None:
        self.settings, self.device, self.reporter = settings, device, reporter
        self.started = time.perf_counter()
        self.last_report, self.warned = 0.0, False

    def batch_done(self, epoch: int, batch: int) -> None:
        """After batch ``batch`` (0-based) of epoch ``epoch`` (0-based)."""
        per_epoch = self.settings.batches_per_epoch
        now = time.perf_counter()
        if not per_epoch or now - self.last_report < PROGRESS_EVERY_SECONDS:
            return
        self.last_report = now
        done = (epoch + (batch + 1) / per_epoch) / self.settings.epochs
        elapsed = now - self.started
        remaining = elapsed / done * (1 - done)
        self.reporter.progress(
            100.0 * done,
            f"epoch {epoch + 1}/{self.settings.epochs}, batch {batch + 1}/"
            f"{per_epoch}; about {_minutes(remaining)} left",
        )
        long_run = elapsed + remaining > LONG_RUN_SECONDS and not self.settings.time_budget_s  # a budget caps it
        if not self.warned and self.device == "cpu" and long_run and batch >= 2:
            self.warned = True
            self.reporter.warning(
                f"Training is estimated to take about {_minutes(elapsed + remaining)} on the CPU "
                f"({_minutes((elapsed + remaining) / self.settings.epochs)} per epoch × {self.settings.epochs} "
                "epochs; early stopping may end it sooner). To shorten it: a GPU (DEVICE cuda), a smaller HIDDEN, "
                "BATCHES_PER_EPOCH, or fewer EPOCHS."
            )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


Batch = tuple  # (network inputs..., last, target, mask) as numpy arrays


def fit(
    network,
    settings: LoopSettings,
    device: str,
    batches: Callable[[np.random.Generator], Iterable[Batch]],
    validate: Callable[[], float],
    reporter: Reporter,
    n_inputs: int = 2,
) -> History:
    """Train ``network`` in place; ``batches(rng)`` yields one epoch's batches, ``validate()`` scores it."""
    import torch

    rng = np.random.default_rng(settings.seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=settings.epochs)
    history, best_state, best_score, stale = History(), None, np.inf, 0
    clock = TrainingClock(settings, device, reporter)
    budget_started = clock.started - settings.spent_before_s
    epochs, batches_per_epoch = settings.epochs, settings.batches_per_epoch or None
    validation_s, first_batch_done = 0.0, 0.0
    if settings.time_budget_s > 0:  # one validation timed before training, for the plan
        network.eval()
        timed = time.perf_counter()
        validate()
        validation_s = time.perf_counter() - timed

    def plan_rest(done: int, batch_s: float, validation_s: float) -> None:
        """Plan the epochs after ``done`` finished ones (and the batches of each, the current one included)."""
        nonlocal epochs, batches_per_epoch
        rest = replace(settings, epochs=settings.epochs - done)
        least = max(1, MIN_BUDGET_EPOCHS - done)
        plan = BudgetPlan.of(rest, time.perf_counter() - budget_started, batch_s, validation_s, least)
        epochs, batches_per_epoch = done + plan.epochs, plan.batches
        scheduler.T_max = epochs  # the learning rate decays over the epochs that will run
        clock.settings = replace(settings, epochs=epochs, batches_per_epoch=plan.batches)
        reporter.log(replace(plan, epochs=epochs).describe(settings))

    epoch = 0
    while epoch < epochs:
        started = time.perf_counter()
        network.train()
        losses = []
        for number, batch in enumerate(batches(rng)):
            if batches_per_epoch and number >= batches_per_epoch:
                break
            tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in batch]
            out = network(*tensors[:n_inputs])
            loss = masked_loss(torch, out, *tensors[n_inputs:], point=settings.point_loss)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            losses.append(loss.item())
            clock.batch_done(epoch, number)
            if settings.time_budget_s > 0 and epoch == 0:  # timed after the first batch (it warms up)
                if number == 0:
                    first_batch_done = time.perf_counter()
                elif number == PLAN_AFTER_BATCHES:
                    plan_rest(0, (time.perf_counter() - first_batch_done) / PLAN_AFTER_BATCHES, validation_s)
        scheduler.step()
        trained = time.perf_counter()
        network.eval()
        score = validate()
        history.train_loss.append(float(np.mean(losses)) if losses else float("nan"))
        history.validation_rmse.append(score)
        history.epoch_seconds.append(time.perf_counter() - started)
        reporter.progress(
            100.0 * (epoch + 1) / epochs,
            f"epoch {epoch + 1}/{epochs}: loss {history.train_loss[-1]:.4f}, validation RMSE {score:.4g}",
        )
        if score < best_score - 1e-9 or best_state is None:
            best_score, best_state, stale, history.best_epoch = score, copy.deepcopy(network.state_dict()), 0, epoch + 1
        else:
            stale += 1
            if stale >= settings.patience:
                reporter.log(f"Early stopping after epoch {epoch + 1} (best: epoch {history.best_epoch}).")
                break
        epoch += 1
        if settings.time_budget_s > 0 and epoch == 1 and settings.epochs > 1:  # re-planned on a whole epoch
            timed_batches = max(len(losses) - 1, 1)
            batch_s = (trained - (first_batch_done if len(losses) > 1 else started)) / timed_batches
            plan_rest(1, batch_s, time.perf_counter() - trained)
        if settings.time_budget_s > 0 and epoch < epochs:  # the plan is an estimate: never start an epoch too long
            if time.perf_counter() - budget_started + history.epoch_seconds[-1] > settings.time_budget_s:
                reporter.log(f"TIME_BUDGET reached after epoch {epoch} of {epochs} (best: epoch {history.best_epoch}).")
                break
    network.load_state_dict(best_state)
    network.eval()
    return history


def conformal_margins(low: np.ndarray, high: np.ndarray, truth: np.ndarray, coverage: float = 0.8) -> list[float]:
    """Per-step margins (axis 1 = horizon) that make [low − m, high + m] cover ``coverage`` of the validation
    targets: conformalised quantile regression (Romano et al. 2019)."""
    scores = np.maximum(low - truth, truth - high)
    margins = []
    for h in range(scores.shape[1]):
        s = scores[:, h][np.isfinite(scores[:, h])]
        level = min(1.0, np.ceil((s.size + 1) * coverage) / max(s.size, 1))
        margins.append(float(np.quantile(s, level)) if s.size else 0.0)
    return margins


def widen(mean, low, high, margins, shape) -> tuple:
    """Apply conformal margins (float[H], reshaped to ``shape``) to a quantile interval around ``mean``."""
    m = np.asarray(margins, dtype=np.float32).reshape(shape)
    return np.minimum(low - m, mean), np.maximum(high + m, mean)


def epoch_chunks(rng, origins: np.ndarray, batch_size: int, max_batches: int) -> list[np.ndarray]:
    """One epoch's training windows (their origin indices) in random order, in batches of ``batch_size``; at most
    ``max_batches`` batches (0 = all)."""
    order = rng.permutation(origins)
    chunks = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    return chunks[: max_batches or None]


def loop_settings(config, train_windows: int, spent_before_s: float = 0.0) -> LoopSettings:
    """The loop's settings from a training config (epochs, learning_rate, patience, seed, batch_size,
    max_batches_per_epoch, time_budget_minutes and, where it has one, point_loss) for ``train_windows`` training
    windows, ``spent_before_s`` of the time budget being used already."""
    per_epoch = -(-train_windows // config.batch_size)
    batches = min(per_epoch, config.max_batches_per_epoch or per_epoch)
    return LoopSettings(
        config.epochs,
        config.learning_rate,
        config.patience,
        config.seed,
        batches,
        60.0 * config.time_budget_minutes,
        getattr(config, "point_loss", "mse"),
        spent_before_s,
    )


def interval_coverage(truth: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of the valid targets inside [low, high] (NaN without any valid target)."""
    valid = np.isfinite(truth)
    return float(((truth >= low) & (truth <= high))[valid].mean()) if valid.any() else float("nan")
