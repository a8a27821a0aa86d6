"""Sensor-network forecasting benchmark: our networks vs. baselines from the same run, held-out windows only.

METR-LA (../shared/data/metr_la, the shared train+validation period): the last 3,427 steps (the published
validation period) are our test slice, the 10 % before it validation (early stopping), the rest training.
Masked MAE/RMSE/MAPE at 15/30/60 min (steps 3/6/12), zeros = missing (as DCRNN). Graph: the DCRNN
adjacency. Irish wind (../shared/data/ireland_wind): last 15 % of days as test, 1-day-ahead RMSE.

    .venv/bin/python benchmarks/network_forecast.py [--epochs 6] [--batches 100] [--models graph_gru,fc_lstm]
        [--time-budget 15]   (minutes of training per model, as TIME_BUDGET; 0 = none)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.data.time_step import TimeStep  # noqa: E402
from backend.device import choose_device  # noqa: E402
from backend.forecast.sensors.graph import GraphSettings, build_adjacency, transition_matrices  # noqa: E402
from backend.forecast.sensors.training import NetworkTrainConfig, evaluate_sensor_network, train_sensor_network  # noqa: E402
from backend.progress import Reporter  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Printer(Reporter):
    def progress(self, percent, message=""):
        print(f"    {message}", flush=True)

    def log(self, message):
        print(f"    {message}", flush=True)

    warning = log


def metr_la():
    z = np.load(DATA / "metr_la" / "speed_train_val.npz", allow_pickle=False)
    values = z["speed"].astype(np.float32)
    values[values == 0] = np.nan
    times = z["time_ns"].astype("datetime64[ns]").astype("datetime64[s]")
    ids = z["sensor_id"].astype(str)
    sensors = pd.read_csv(DATA / "metr_la" / "sensors.csv")
    xy = sensors[["lon", "lat"]].to_numpy()
    weights = build_adjacency(
        GraphSettings("edges", edges=str(DATA / "metr_la" / "adj_dcrnn.csv")), ids, xy, "EPSG:4326"
    )
    test_fraction = (values.shape[0] - int(z["train_end"])) / values.shape[0]
    return values, times, TimeStep(seconds=300), weights, test_fraction


def ireland_wind():
    frame = pd.read_csv(DATA / "ireland_wind" / "observations.csv")
    grid = frame.pivot(index="date", columns="station_id", values="wind_speed_knots")
    stations = frame.drop_duplicates("station_id").set_index("station_id").loc[grid.columns]
    weights = build_adjacency(
        GraphSettings("gaussian", threshold=0.1),
        grid.columns.to_numpy(),
        stations[["lon", "lat"]].to_numpy(),
        "EPSG:4326",
    )
    times = pd.to_datetime(grid.index).to_numpy().astype("datetime64[s]")
    return grid.to_numpy(np.float32), times, TimeStep(seconds=86400), weights, 0.15


def run(name, loader, models, config_kwargs, steps, device):
    values, times, step, weights, test_fraction = loader()
    supports = transition_matrices(weights)
    print(f"\n## {name}: {values.shape[1]} sensors × {values.shape[0]} steps, device {device}")
    rows, timing = {}, {}
    evaluation = None
    for model in models:
        config = NetworkTrainConfig(architecture=model, test_fraction=test_fraction, **config_kwargs)
        started = time.perf_counter()
        network, split, norm, history, combination = train_sensor_network(
            values, times, step, supports, config, device, Printer()
        )
        seconds = time.perf_counter() - started
        evaluation = evaluate_sensor_network(
            network,
            values,
            times,
            step,
            split,
            norm,
            config,
            device,
            margins=history.interval_margins,
            combination=combination,
        )
        rows[model] = evaluation.scores["model"]
        rows[f"{model} (network alone)"] = evaluation.scores["network"]
        for s in steps:
            print(f"blend weights +{s}: {combination.blend.describe_step(s - 1)}")
        timing[model] = (
            float(np.mean(history.epoch_seconds)),
            len(history.epoch_seconds),
            seconds,
            evaluation.coverage_80,
        )
    for baseline in ("persistence", "historical_average", "seasonal_naive", "exponential_smoothing", "ar"):
        rows[baseline] = evaluation.scores[baseline]
    print(f"test windows: {evaluation.windows}")
    header = " | ".join(f"MAE +{s}" for s in steps) + " | " + " | ".join(f"RMSE +{s}" for s in steps)
    print(f"| method | {header} | MAPE +{steps[-1]} % |")
    print("|---" * (2 * len(steps) + 2) + "|")
    for method, score in rows.items():
        cells = [f"{score['mae'][s - 1]:.3f}" for s in steps] + [f"{score['rmse'][s - 1]:.3f}" for s in steps]
        print(f"| {method} | {' | '.join(cells)} | {score['mape'][steps[-1] - 1]:.2f} |")
    best = {
        s: min(
            ("persistence", "historical_average", "seasonal_naive", "exponential_smoothing", "ar"),
            key=lambda b: rows[b]["mae"][s - 1],
        )
        for s in steps
    }
    for model, (epoch_s, epochs, total, coverage) in timing.items():
        ratios = ", ".join(
            f"+{s}: {rows[model]['mae'][s - 1] / rows[best[s]]['mae'][s - 1]:.3f} of {best[s]}" for s in steps
        )
        print(
            f"{model}: {epoch_s:.1f} s/epoch × {epochs} epochs ({total:.0f} s incl. validation); "
            f"80 % interval coverage {coverage:.1%}; MAE ratio vs best baseline {ratios}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batches", type=int, default=100, help="training batches per epoch (0 = all)")
    parser.add_argument("--models", default="graph_gru,fc_lstm")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", choices=("metr_la", "ireland_wind"), default=None)
    parser.add_argument("--time-budget", type=float, default=0.0, help="training minutes per model (0 = none)")
    args = parser.parse_args()
    device = choose_device(args.device)
    models = args.models.split(",")
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark reads the shared data sets.")
    if args.only in (None, "ireland_wind"):
        run(
            "Irish wind, daily, 1 and 3 days ahead",
            ireland_wind,
            models,
            dict(
                lookback=14,
                horizon=3,
                epochs=max(args.epochs, 15),
                batch_size=32,
                max_batches_per_epoch=0,
                time_budget_minutes=args.time_budget,
            ),
            [1, 3],
            device,
        )
    if args.only in (None, "metr_la"):
        run(
            "METR-LA, 5-min speeds, 15/30/60 min ahead",
            metr_la,
            models,
            dict(
                lookback=12,
                horizon=12,
                epochs=args.epochs,
                batch_size=32,
                max_batches_per_epoch=args.batches,
                time_budget_minutes=args.time_budget,
            ),
            [3, 6, 12],
            device,
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS of this process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
