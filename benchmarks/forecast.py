"""Benchmark: raster forecaster vs baselines on the shipped ERA5 hourly stack (test = the held-out last 75 bands).

Run here:          .venv/bin/python benchmarks/forecast.py --epochs 15
On a GPU machine:  python3 benchmarks/forecast.py --npz .devdata/era5.npz --device cuda --epochs 60 --hidden 32
(make the .npz here with --export .devdata/era5.npz; the GPU machine has torch but no GDAL stack).
Prints: test RMSE per horizon step for the model and each baseline, skill vs the best baseline, 80 % interval
coverage, epoch time and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STACK = REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif"
TEST_FRACTION = 75 / 744  # bands 670–744: the data set's evaluation period


def load(npz: str | None):
    if npz:
        data = np.load(npz)
        return data["values"], data["times"].astype("datetime64[s]")
    from backend.data.raster_io import read_stack

    stack = read_stack(STACK)
    return stack.values, stack.times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--npz")
    parser.add_argument("--export")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--architecture", default="convlstm")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lookback", type=int, default=12)
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time-budget", type=float, default=0.0, help="training minutes (as TIME_BUDGET; 0 = none)")
    args = parser.parse_args()
    values, times = load(args.npz)
    if args.export:
        Path(args.export).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.export, values=values, times=times.astype("datetime64[s]").astype(np.int64))
        return
    import torch

    from backend.data.time_step import TimeStep
    from backend.forecast.raster.training import TrainConfig, evaluate, train_raster_model

    HOUR = TimeStep(seconds=3600)  # noqa: N806 (a constant)

    torch.set_num_threads(args.threads)
    config = TrainConfig(
        architecture=args.architecture,
        lookback=args.lookback,
        horizon=args.horizon,
        epochs=args.epochs,
        hidden=args.hidden,
        patch=args.patch,
        test_fraction=TEST_FRACTION,
        patience=max(6, args.epochs // 4),
        time_budget_minutes=args.time_budget,
    )
    started = time.perf_counter()
    network, split, norm, history, combination = train_raster_model(values, times, HOUR, config, args.device)
    train_seconds = time.perf_counter() - started
    evaluation = evaluate(
        network,
        values,
        times,
        HOUR,
        split,
        norm,
        config,
        args.device,
        margins=history.interval_margins,
        combination=combination,
    )
    device_name = torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU, {args.threads} threads"
    print(
        f"\n## {args.architecture} (hidden {args.hidden}, lookback {args.lookback}, horizon "
        f"{args.horizon}) on {device_name}"
    )
    print(
        f"train {split.train_end} steps, validation {split.val_end - split.train_end}, test "
        f"{values.shape[0] - split.val_end} "
        f"(from {str(times[split.val_end])[:16]}Z, {evaluation.windows} windows); epochs run {len(history.train_loss)} "
        f"(best {history.best_epoch}); mean epoch {np.mean(history.epoch_seconds):.2f} s; total {train_seconds:.0f} s"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if args.device == "cuda" else ""
    print(f"peak memory: process RSS {peak:.0f} MiB{gpu}")
    steps = [f"+{h + 1} h" for h in range(args.horizon)]
    print("| test RMSE (K) | " + " | ".join(steps) + " |")
    print("|---|" + "---|" * args.horizon)
    for name, rmse in evaluation.rmse.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rmse) + " |")
    print("| skill vs best baseline | " + " | ".join(f"{v:+.1%}" for v in evaluation.skill) + " |")
    print("| best baseline | " + " | ".join(evaluation.best_baseline) + " |")
    print(
        "| blend weights (validation) | "
        + " | ".join(combination.blend.describe_step(h) for h in range(args.horizon))
        + " |"
    )
    print(
        f"80 % interval coverage on test: {evaluation.coverage_80:.1%} (margins calibrated on validation: "
        + ", ".join(f"{m:.3f}" for m in history.interval_margins)
        + " K)"
    )


if __name__ == "__main__":
    main()
