"""Space-time local outliers: Local Moran's I equal to esda's Moran_Local per step, the time neighbourhood,
permutation p-values, types and summaries, the command on points and rasters."""

import warnings

import numpy as np
import pandas as pd
import pytest

from backend.diagnostics.hotspots import grid_kernel, point_weights
from backend.diagnostics.local_outliers import (
    SUMMARIES,
    TYPES,
    grid_neighbour_sums,
    local_outliers,
    point_neighbour_sums,
)
from tests.collect import CollectingReporter
from tests.paths import SAMPLE, shared


@pytest.fixture(scope="module")
def monthly_pm10():
    """Monthly mean PM10 1998–2007 (months × stations, NaN = no data that month) and the stations' x, y (m)."""
    obs = pd.read_csv(shared("de_pm10_1998_2007/observations.csv"))
    daily = obs.pivot(index="date", columns="station_id", values="pm10")
    monthly = daily.set_index(pd.to_datetime(daily.index)).resample("MS").mean()
    stations = pd.read_csv(shared("de_pm10_1998_2007/stations.csv")).set_index("station_id")
    stations = stations.loc[[s for s in monthly.columns if s in stations.index]]
    return monthly[stations.index].to_numpy(), stations[["x", "y"]].to_numpy(dtype=float)


def test_local_morans_i_equals_esda_on_every_month(monthly_pm10):
    try:
        import esda
    except ImportError as exc:  # absent, or not importable with a newer scipy (Debian unstable)
        pytest.skip(f"esda cannot be imported here: {exc}")
    libpysal = pytest.importorskip("libpysal")
    from scipy.spatial.distance import cdist

    values, xy = monthly_pm10
    weights, _ = point_weights(cdist(xy, xy), "knn", k=6)
    ours = local_outliers(values, point_neighbour_sums(weights), time_steps=0, permutations=99)
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(values.shape[0]):
            ok = np.isfinite(values[t])
            if ok.sum() < 10:
                continue
            sub = weights[np.ix_(ok, ok)].copy()
            np.fill_diagonal(sub, 0.0)
            w = libpysal.weights.full2W(sub)
            reference = esda.Moran_Local(values[t][ok], w, transformation="r", permutations=0)
            np.testing.assert_allclose(ours.local_i[t][ok], reference.Is, atol=1e-8)
            np.testing.assert_allclose(ours.z[t][ok], reference.z, atol=1e-12)
            compared += 1
    assert compared >= 96  # every month with at least 10 stations (2000–2007)


def test_pseudo_p_values_follow_esda_and_find_a_planted_outlier():
    rng = np.random.default_rng(3)
    xy = np.column_stack([np.repeat(np.arange(8), 8), np.tile(np.arange(8), 8)]) * 1000.0
    from scipy.spatial.distance import cdist

    weights, _ = point_weights(cdist(xy, xy), "distance_band", 1500.0)
    values = rng.normal(10, 1, (6, 64))
    ring = np.flatnonzero(weights[27] * (np.arange(64) != 27))
    values[:, 27], values[:, ring] = 16.0, 6.0  # a high station among low neighbours at every step
    reporter = CollectingReporter()
    result = local_outliers(values, point_neighbour_sums(weights), 0, 999, 0.05, 1, reporter)
    assert any("2559 are used" in m for m in reporter.logs)  # 1/1000 cannot pass the FDR over 64 stations
    assert (result.category[:, 27] == TYPES.index("high-low outlier")).all()
    assert SUMMARIES[result.summary[27]] == "only high-low outlier"
    assert (result.p[:, 27] == 1 / 2560).all()  # no random neighbourhood makes it more extreme
    noise = np.delete(np.arange(64), [27, *ring])
    assert (result.p[:, noise] >= 1 / 2560).all() and (result.p[:, noise] <= 0.5 + 1e-12).all()
    assert (result.category[:, noise] == 0).mean() > 0.9


def test_previous_steps_join_the_neighbourhood():
    """With TIME_STEPS 1 the lag of (i, t) averages i's neighbours at t and i with its neighbours at t − 1."""
    rng = np.random.default_rng(4)
    values = rng.normal(size=(3, 5))
    weights = np.eye(5) + np.eye(5, k=1) + np.eye(5, k=-1)
    result = local_outliers(values, point_neighbour_sums(weights), time_steps=1, permutations=99)
    z = (values - values.mean(axis=1, keepdims=True)) / values.std(axis=1, keepdims=True)
    i, t = 2, 1
    expected = (z[t, 1] + z[t, 3] + z[t - 1, 2] + z[t - 1, 1] + z[t - 1, 3]) / 5
    assert result.lag[t, i] == pytest.approx(expected, rel=1e-12)
    assert result.local_i[t, i] == pytest.approx(4 / 5 * z[t, i] * expected, rel=1e-12)
    assert result.lag[0, 0] == pytest.approx(z[0, 1], rel=1e-12)  # the first step has no earlier one


def test_grid_neighbourhood_equals_the_point_formula_on_cell_centres():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(4, 6, 7))
    values[1, 2, 3] = np.nan
    grid = local_outliers(values.reshape(4, -1), grid_neighbour_sums(grid_kernel("queen"), 6, 7), 1, 99)
    rows, cols = np.divmod(np.arange(42), 7)
    queen = (np.abs(rows[:, None] - rows[None]) <= 1) & (np.abs(cols[:, None] - cols[None]) <= 1)
    points = local_outliers(values.reshape(4, -1), point_neighbour_sums(queen.astype(float)), 1, 99)
    np.testing.assert_allclose(grid.local_i, points.local_i, atol=1e-12, equal_nan=True)
    assert np.isnan(grid.local_i[1, 2 * 7 + 3]) and grid.category[1, 2 * 7 + 3] == -1


def test_command_writes_station_summaries_steps_and_a_raster_stack(tmp_path):
    from backend.commands import run_command

    points = run_command(
        "localoutliers",
        {
            "source": {
                "points": {
                    "path": str(SAMPLE / "de_pm10_2005q1.gpkg"),
                    "id_field": "station_id",
                    "time_field": "date",
                    "value_field": "pm10",
                }
            },
            "time_step": "7D",
            "output": str(tmp_path / "summary.gpkg"),
            "output_steps": str(tmp_path / "steps.csv"),
            "output_report": str(tmp_path / "report.html"),
            "permutations": 199,
        },
    )
    import geopandas as gpd

    summary = gpd.read_file(tmp_path / "summary.gpkg")
    assert len(summary) == 68 and {"summary", "summary_code", "high_high", "low_low", "high_low", "low_high"} <= set(
        summary.columns
    )
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert {"station_id", "time", "value", "local_i", "p", "p_fdr", "category"} <= set(steps.columns)
    assert set(steps["category"]) <= set(TYPES)
    assert points.summary["locations"] == 68
    raster = run_command(
        "localoutliers",
        {
            "source": {"raster": str(SAMPLE / "era5_t2m_uk_2019_03_hourly.tif")},
            "output": str(tmp_path / "summary.tif"),
            "output_steps": str(tmp_path / "steps.tif"),
            "permutations": 99,
        },
    )
    import rasterio

    with rasterio.open(tmp_path / "summary.tif") as out, rasterio.open(tmp_path / "steps.tif") as per_step:
        assert out.descriptions[0].startswith("summary_code") and per_step.count == raster.summary["steps"]
        assert per_step.descriptions[0].endswith("Z")  # band times


def test_a_stack_streams_step_by_step_with_the_result_of_the_whole_stack_in_memory(tmp_path):
    """The command reads a stack one (daily-averaged) step at a time, holding only the previous steps; its types
    per step and its summaries equal the engine on the whole stack at once."""
    import rasterio

    from backend.commands import run_command
    from backend.commands.inputs import SeriesSource
    from backend.data.raster_io import open_raster, read_block

    path = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"
    run_command(
        "localoutliers",
        {
            "source": {"raster": str(path)},
            "time_step": "1D",
            "time_steps": 2,
            "permutations": 99,
            "output": str(tmp_path / "summary.tif"),
            "output_steps": str(tmp_path / "steps.tif"),
        },
    )
    axis = SeriesSource(raster=str(path)).raster_axis("1D")
    with open_raster(path) as src:
        height, width = src.height, src.width
        values = axis.cells(read_block(src))
    whole = local_outliers(values, grid_neighbour_sums(grid_kernel("queen"), height, width), 2, 99)
    with rasterio.open(tmp_path / "steps.tif") as steps, rasterio.open(tmp_path / "summary.tif") as summary:
        category = steps.read().reshape(values.shape)
        np.testing.assert_array_equal(np.where(whole.category >= 0, whole.category, np.nan), category)
        np.testing.assert_array_equal(summary.read(1).ravel(), whole.summary.astype(np.float32))
        np.testing.assert_array_equal(summary.read(2).ravel(), whole.counts[:, 0])
    assert (whole.category > 0).sum() > 100  # significant cells on many days
