"""Diagnostics benchmark: throughput of our vectorised tests vs. the reference libraries run per series.

Data: the shipped ERA5 hourly stack (744 steps × 49 × 33 cells; its first 669 steps, the training part, are used)
and the shared daily PM10 panel for Gi*. Each row times ours on all cells and the reference on a subset of cells
(same data), and prints both rates in million cell-steps per second with their ratio.

    .venv/bin/python benchmarks/diagnostics.py [--cells 200]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.commands import run_command  # noqa: E402
from backend.data.raster_io import read_stack  # noqa: E402
from backend.diagnostics.changepoints import binary_segmentation, noise_scale  # noqa: E402
from backend.diagnostics.hotspots import gi_star, point_weights  # noqa: E402
from backend.diagnostics.series_tests import adf_batch, kpss_batch, schwert_lags  # noqa: E402
from backend.diagnostics.trend import mann_kendall, seasonal_mann_kendall  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200, help="cells run through the per-series references")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    stack = read_stack(REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif")
    values = stack.values[:669].reshape(669, -1).astype(np.float64)
    t, m = values.shape
    subset = values[:, np.linspace(0, m - 1, args.cells).astype(int)]
    rows = []

    import pymannkendall as mk

    ours, _ = timed(lambda: mann_kendall(values))
    ref, _ = timed(lambda: [mk.hamed_rao_modification_test(subset[:, i]) for i in range(subset.shape[1])])
    rows.append(("Mann-Kendall + Sen + Hamed-Rao", "pymannkendall", ours, m, ref, subset.shape[1]))
    ours, _ = timed(lambda: seasonal_mann_kendall(values, 12))
    ref, _ = timed(lambda: [mk.seasonal_test(subset[:, i], period=12) for i in range(subset.shape[1])])
    rows.append(
        (
            "Seasonal Mann-Kendall + seasonal Sen (12 seasons)",
            "pymannkendall seasonal_test",
            ours,
            m,
            ref,
            subset.shape[1],
        )
    )

    from statsmodels.tsa.stattools import adfuller

    lags = schwert_lags(t)
    ours, _ = timed(lambda: adf_batch(values, lags))
    ref, _ = timed(lambda: [adfuller(subset[:, i], maxlag=lags, autolag=None) for i in range(subset.shape[1])])
    rows.append(("ADF (fixed lags)", "statsmodels adfuller", ours, m, ref, subset.shape[1]))

    from statsmodels.tsa.stattools import kpss

    ours, _ = timed(lambda: kpss_batch(values, lags))
    ref, _ = timed(lambda: [kpss(subset[:, i], regression="c", nlags=lags) for i in range(subset.shape[1])])
    rows.append(("KPSS (level, fixed lags)", "statsmodels kpss", ours, m, ref, subset.shape[1]))

    from backend.diagnostics import series_tests

    series_tests._stl_operators.clear()  # the operator's build (669 STL fits) is part of our time
    ours, _ = timed(lambda: series_tests.seasonality_strengths(values, 24))
    ref, _ = timed(lambda: [series_tests.seasonality_strength(subset[:, i], 24) for i in range(subset.shape[1])])
    rows.append(("STL seasonality strength (period 24)", "statsmodels STL per series", ours, m, ref, subset.shape[1]))

    import ruptures as rpt

    ours, _ = timed(lambda: binary_segmentation(values, 5, 5))
    sigma = noise_scale(subset)
    ref, _ = timed(
        lambda: [
            rpt.Binseg(model="l2", min_size=5, jump=1).fit(subset[:, i]).predict(pen=2 * sigma[i] ** 2 * np.log(t))
            for i in range(subset.shape[1])
        ]
    )
    rows.append(("Change points (binary segmentation)", "ruptures Binseg", ours, m, ref, subset.shape[1]))

    print(f"ERA5 hourly t2m, {t} steps × {m} cells; references on {subset.shape[1]} cells")
    print("| test | reference | ours M cell-steps/s | reference M cell-steps/s | ratio |")
    print("|---|---|---|---|---|")
    for name, reference, ours_s, ours_cells, ref_s, ref_cells in rows:
        ours_rate, ref_rate = t * ours_cells / ours_s / 1e6, t * ref_cells / ref_s / 1e6
        print(f"| {name} | {reference} | {ours_rate:.3f} | {ref_rate:.4f} | {ours_rate / ref_rate:.0f}× |")

    data = REPO.parent / "shared" / "data" / "de_pm10_1998_2007" / "observations.csv"
    if data.exists():
        import esda
        import libpysal
        import pandas as pd
        from scipy.spatial.distance import cdist

        obs = pd.read_csv(data)
        panel = obs.pivot(index="date", columns="station_id", values="pm10")
        year = panel.loc["2005-01-01":"2005-12-31"]
        year = year.loc[:, year.notna().mean() >= 0.9]  # stations with ≥ 90 % of 2005; their gaps get the station
        year = year.fillna(year.mean())  # mean, so that one weights object serves every day
        xy = obs.drop_duplicates("station_id").set_index("station_id").loc[year.columns, ["x", "y"]].to_numpy()
        days = year.to_numpy()
        weights, _ = point_weights(cdist(xy, xy), "distance_band", 150_000)
        ours, _ = timed(lambda: gi_star(days, weights))
        w = libpysal.weights.DistanceBand(xy, threshold=150_000, binary=True, silence_warnings=True)
        ref, _ = timed(lambda: [esda.G_Local(day, w, star=True, transform="B", permutations=0) for day in days])
        print(
            f"\nGi* on the {days.shape[0]} days of 2005 × {days.shape[1]} PM10 stations (≥ 90 % observed): ours "
            f"{days.size / ours / 1e6:.3f} M location-steps/s, esda.G_Local {days.size / ref / 1e6:.4f} M/s, "
            f"ratio {ref / ours:.0f}×"
        )

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        seconds, result = timed(
            lambda: run_command(
                "timeseriesdiagnostics",
                {
                    "source": {"raster": str(REPO / "sample_data" / "era5_t2m_uk_2019_03_hourly.tif")},
                    "output": f"{folder}/d.tif",
                },
            )
        )
    cell_steps = 744 * m
    print(
        f"\nWhole command timeseriesdiagnostics (all tests, read + write, the default scheduler): "
        f"{seconds:.1f} s for {cell_steps / 1e6:.2f} M cell-steps = {seconds / (cell_steps / 1e6):.1f} s per "
        f"million cell-steps"
    )
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
