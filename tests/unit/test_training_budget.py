"""TIME_BUDGET of the forecasters' training loop: the plan from measured speeds, and a run that keeps to it."""

import time

import numpy as np
import pytest

from backend.forecast.loop import BudgetPlan, LoopSettings
from backend.progress import Reporter


def settings(budget_s: float, epochs: int = 30, batches: int = 100) -> LoopSettings:
    return LoopSettings(epochs, 1e-2, 100, 0, batches, budget_s)


def test_every_asked_batch_while_enough_epochs_fit():
    plan = BudgetPlan.of(settings(900.0), elapsed_s=10.0, batch_s=0.5, validation_s=5.0)
    assert (plan.epochs, plan.batches) == (14, 100)  # (810 − 10) s // 55 s per epoch
    assert BudgetPlan.of(settings(10**6), 10.0, 0.5, 5.0).epochs == 30  # never more than asked


def test_a_tight_budget_shortens_the_epochs_instead_of_dropping_below_four():
    plan = BudgetPlan.of(settings(60.0), elapsed_s=5.0, batch_s=0.5, validation_s=2.0)
    assert (plan.epochs, plan.batches) == (4, 20)  # (49 s / 4 − 2 s) // 0.5 s
    assert "4 epoch(s) of 20 batches" in plan.describe(settings(60.0)) and "asked: 30 of 100" in plan.describe(
        settings(60.0)
    )
    least = BudgetPlan.of(settings(6.0), elapsed_s=5.0, batch_s=0.5, validation_s=2.0)
    assert (least.epochs, least.batches) == (1, 1)  # spent: one epoch of one batch


class Log(Reporter):
    def __init__(self):
        self.lines = []

    def log(self, message):
        self.lines.append(message)


def _tiny_problem(torch):
    """A linear network and 100 batches of 0.03 s per epoch (3 s; 90 s for 30 epochs), with its validation."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Unflatten(1, (3, 2)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    target = np.stack([x[:, 0], x[:, 1]], axis=1).astype(np.float32)

    def batches(_rng):
        for _ in range(100):
            time.sleep(0.03)
            yield x, np.zeros(64, np.float32), target, np.ones_like(target)

    def validate():
        with torch.no_grad():
            out = network(torch.from_numpy(x)).numpy()
        return float(np.sqrt(np.mean((out[:, 0] - target) ** 2)))

    return network, batches, validate


def test_time_spent_before_the_loop_counts_against_the_budget():
    torch = pytest.importorskip("torch")
    from dataclasses import replace

    from backend.forecast.loop import fit

    network, batches, validate = _tiny_problem(torch)
    started = time.perf_counter()
    history = fit(network, replace(settings(4.0), spent_before_s=2.5), "cpu", batches, validate, Log(), n_inputs=1)
    assert time.perf_counter() - started < 1.5 + 1.0  # 4 s less the 2.5 s spent fitting the baselines
    assert len(history.train_loss) >= 1


def test_training_ends_within_its_budget_with_the_best_epoch_kept():
    torch = pytest.importorskip("torch")
    from backend.forecast.loop import fit

    network, batches, validate = _tiny_problem(torch)
    log = Log()
    started = time.perf_counter()
    history = fit(network, settings(4.0), "cpu", batches, validate, log, n_inputs=1)
    elapsed = time.perf_counter() - started
    plan = next(line for line in log.lines if line.startswith("TIME_BUDGET"))
    assert "4 epoch(s) of" in plan and len(history.train_loss) <= 4
    assert elapsed < 4.0 + 1.0  # the budget, and a little for the slowest machine's overheads
    assert history.validation_rmse[history.best_epoch - 1] == min(history.validation_rmse)
    assert validate() == pytest.approx(min(history.validation_rmse))  # the best epoch's weights are back


def test_the_causes_tell_a_budget_cut_from_early_stopping():
    from types import SimpleNamespace

    from backend.forecast.loop import History
    from backend.forecast.model_files import training_causes

    config = SimpleNamespace(epochs=30, patience=5)
    stopped = History(train_loss=[1.0] * 9, best_epoch=4)  # 5 epochs without improvement
    assert "no improvement" in training_causes(config, stopped)[0]
    cut = History(train_loss=[1.0] * 4, best_epoch=4)
    assert training_causes(config, cut)[0].startswith("TIME_BUDGET ended training after 4 of 30 epochs")
    full = History(train_loss=[1.0] * 30, best_epoch=30)
    assert "best epoch was the last (30 of 30)" in training_causes(config, full)[0]
