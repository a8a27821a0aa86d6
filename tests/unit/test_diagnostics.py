"""Diagnostics: agreement with reference implementations, hot spot rules, clustering, commands, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio

from backend.commands import run_command
from backend.diagnostics.changepoints import binary_segmentation, noise_scale
from backend.diagnostics.hotspots import CODE, categorise, fdr_adjust, gi_star, gi_star_grid, grid_kernel, point_weights
from backend.diagnostics.series_tests import adf_batch, schwert_lags, stationarity_tests
from backend.diagnostics.trend import mann_kendall
from backend.errors import UserInputError
from backend.progress import Reporter
from tests.paths import SAMPLE, shared

PM10 = {
    "path": str(SAMPLE / "de_pm10_2005q1.gpkg"),
    "format": "long",
    "id_field": "station_id",
    "time_field": "date",
    "value_field": "pm10",
}
HOURLY = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"


@pytest.fixture(scope="module")
def pm10_decade():
    """Daily PM10 1998–2007 at the shared stations (stations × days, NaN = missing)."""
    obs = pd.read_csv(shared("de_pm10_1998_2007/observations.csv"))
    value = [c for c in obs.columns if c.lower().startswith("pm10")][0]
    return obs.pivot(index="date", columns="station_id", values=value)


def test_mann_kendall_and_sen_match_pymannkendall(pm10_decade):
    mk = pytest.importorskip("pymannkendall")
    monthly = pm10_decade.set_index(pd.to_datetime(pm10_decade.index)).resample("MS").mean().loc["2000":]
    complete = monthly.loc[:, monthly.notna().all()]  # 96 monthly means at the stations complete since 2000
    assert complete.shape[1] >= 5
    ours = mann_kendall(complete.to_numpy(), hamed_rao=True)
    plain = mann_kendall(complete.to_numpy(), hamed_rao=False)
    for k, station in enumerate(complete.columns):
        series = complete[station].to_numpy()
        reference = mk.hamed_rao_modification_test(series)
        original = mk.original_test(series)
        assert ours.z[k] == pytest.approx(reference.z, abs=1e-8)
        assert ours.p[k] == pytest.approx(reference.p, abs=1e-8)
        assert ours.slope[k] == pytest.approx(reference.slope, abs=1e-8)
        assert ours.intercept[k] == pytest.approx(reference.intercept, abs=1e-8)
        assert plain.z[k] == pytest.approx(original.z, abs=1e-8) and plain.s[k] == original.s


def test_mann_kendall_with_ties_and_gaps_matches_pymannkendall():
    mk = pytest.importorskip("pymannkendall")
    rng = np.random.default_rng(4)
    x = np.round(np.cumsum(rng.normal(size=150)) * 0.5)  # many ties
    x[[10, 11, 70]] = np.nan
    ours = mann_kendall(x[:, None], hamed_rao=False)
    reference = mk.original_test(x)
    assert ours.s[0] == reference.s and ours.var_s[0] == pytest.approx(reference.var_s, rel=1e-12)
    assert ours.slope[0] == pytest.approx(reference.slope, abs=1e-12)


def test_gi_star_matches_esda(pm10_decade):
    try:
        import esda
    except ImportError as exc:  # absent, or not importable with a newer scipy (Debian unstable)
        pytest.skip(f"esda cannot be imported here: {exc}")
    libpysal = pytest.importorskip("libpysal")
    stations = pd.read_csv(shared("de_pm10_1998_2007/stations.csv")).set_index("station_id")  # x, y: UTM 32N (m)
    yearly = pm10_decade.set_index(pd.to_datetime(pm10_decade.index)).resample("YS").mean()
    stations = stations.loc[[s for s in yearly.columns if s in stations.index]]
    values = yearly[stations.index].to_numpy()
    xy = stations[["x", "y"]].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.DistanceBand(xy, threshold=150_000, binary=True, silence_warnings=True)
        from scipy.spatial.distance import cdist

        weights, _ = point_weights(cdist(xy, xy), "distance_band", 150_000)
        for row in range(values.shape[0]):
            ok = np.isfinite(values[row])
            if ok.sum() < 10:
                continue
            ours = gi_star(np.where(ok, values[row], np.nan)[None], weights)[0][ok]
            sub = libpysal.weights.DistanceBand(xy[ok], threshold=150_000, binary=True, silence_warnings=True)
            reference = esda.G_Local(values[row][ok], sub, star=True, transform="B", permutations=0).Zs
            np.testing.assert_allclose(ours, reference, atol=1e-8)
    assert w.n == len(stations)


def test_grid_gi_star_equals_the_point_formula():
    rng = np.random.default_rng(2)
    grid = rng.gamma(2.0, size=(2, 6, 7))
    grid[0, 2, 3] = np.nan
    kernel = grid_kernel("queen")
    z = gi_star_grid(grid, kernel)
    rows, cols = np.mgrid[:6, :7]
    cells = np.column_stack([rows.ravel(), cols.ravel()])
    chebyshev = np.abs(cells[:, None] - cells[None]).max(axis=2)
    reference = gi_star(grid.reshape(2, -1), (chebyshev <= 1).astype(float))
    np.testing.assert_allclose(z.reshape(2, -1), reference, atol=1e-12, equal_nan=True)


def test_fdr_matches_statsmodels():
    from statsmodels.stats.multitest import fdrcorrection

    p = np.random.default_rng(5).uniform(size=(3, 40)) ** 3
    p[1, 4] = np.nan
    adjusted = fdr_adjust(p, axis=1)
    for row in range(3):
        ok = np.isfinite(p[row])
        np.testing.assert_allclose(adjusted[row][ok], fdrcorrection(p[row][ok])[1], atol=1e-12)
    assert np.isnan(adjusted[1, 4])


def test_emerging_hot_spot_rules():
    t = 10
    hot = np.zeros((t, 9), dtype=bool)
    cold = np.zeros((t, 9), dtype=bool)
    hot[-1, 0] = True  # new
    hot[-3:, 1] = True  # consecutive
    hot[:, 2] = True  # intensifying (with a rising trend)
    hot[:, 3] = True  # persistent (no trend)
    hot[:-1, 4] = True  # historical
    hot[[2, 5, 9], 5] = True  # sporadic
    hot[[6, 9], 6] = True
    cold[2, 6] = True  # oscillating
    cold[:, 7] = True  # persistent cold
    trend_z = np.array([0, 0, 3.0, 0.5, 0, 0, 0, 0, 0])
    trend_p = np.array([1, 1, 0.001, 0.6, 1, 1, 1, 1, 1])
    codes = categorise(hot, cold, trend_z, trend_p)
    expected = [
        "new hot spot",
        "consecutive hot spot",
        "intensifying hot spot",
        "persistent hot spot",
        "historical hot spot",
        "sporadic hot spot",
        "oscillating hot spot",
        "persistent cold spot",
        "no pattern",
    ]
    assert [CODE[e] for e in expected] == list(codes)


def test_change_points_match_ruptures():
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    x[100:, 0] += 3
    x[200:, 0] -= 2
    x[50:, 1] += 1.5
    x[150:220, 2] += 2.5
    found = binary_segmentation(x, max_changes=5, min_size=5)
    sigma = noise_scale(x)
    for column in range(4):
        reference = (
            rpt.Binseg(model="l2", min_size=5, jump=1)
            .fit(x[:, column])
            .predict(pen=2 * sigma[column] ** 2 * np.log(300))[:-1]
        )
        assert list(found[column][found[column] >= 0]) == reference
    assert np.abs(found[0][:2] - [100, 200]).max() <= 2 and found[3][0] == -1


def test_batched_adf_matches_statsmodels():
    from statsmodels.tsa.stattools import adfuller

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(240, 6)), axis=0)
    x[:, 2] = rng.normal(size=240)
    lags = schwert_lags(240)
    reference = [adfuller(x[:, i], maxlag=lags, autolag=None)[1] for i in range(6)]
    np.testing.assert_allclose(adf_batch(x, lags), reference, atol=1e-10)
    adf, kpss_p, verdict = stationarity_tests(x)
    assert verdict[2] == 0 and (verdict[[0, 1]] == 3).sum() >= 1


def test_point_diagnostics_command(tmp_path):
    import geopandas as gpd

    result = run_command(
        "timeseriesdiagnostics",
        {"source": {"points": PM10}, "output": str(tmp_path / "d.tif"), "output_report": str(tmp_path / "d.html")},
    )
    frame = gpd.read_file(result.outputs["OUTPUT"])  # a .tif name for point input becomes .gpkg
    assert result.outputs["OUTPUT"].endswith(".gpkg") and len(frame) == 68
    for field in ("trend_slope", "trend_p", "seasonality", "period", "adf_p", "kpss_p", "change_points"):
        assert field in frame.columns
    assert frame["trend_p"].between(0, 1).all()
    verdicts = frame["stationarity"].dropna()
    assert verdicts.isin([0, 1, 2, 3]).all() and len(verdicts) >= 60
    assert "Sen" in (tmp_path / "d.html").read_text()


def test_raster_diagnostics_bands_and_vectorised_agreement(tmp_path):
    from backend.data.raster_io import read_stack, write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    full = read_stack(HOURLY)
    small = RasterStack(full.values[:240, :6, :7], full.times[:240], GridSpec(7, 6, full.grid.transform, full.grid.crs))
    small.values[:, 0, 0] = np.nan
    small.values[:, 0, 1] = 280.0  # constant cell
    write_stack(small, tmp_path / "s.tif")
    result = run_command(
        "timeseriesdiagnostics",
        {"source": {"raster": str(tmp_path / "s.tif")}, "output": str(tmp_path / "d.tif")},
        Reporter(),
    )
    with rasterio.open(result.outputs["OUTPUT"]) as src:
        bands = {d.split(":")[0]: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    assert np.isnan(bands["trend_p"][0, 0]) and bands["missing_share"][0, 0] == 1
    assert np.isnan(bands["trend_p"][0, 1]) and bands["change_points"][0, 1] == 0
    series = small.values[:, 3, 4].astype(float)
    single = mann_kendall(series[:, None])
    assert bands["trend_p"][3, 4] == pytest.approx(single.p[0], rel=1e-5)
    from scipy.signal import periodogram

    freq, power = periodogram(series, detrend="linear")
    assert bands["period"][3, 4] == pytest.approx(1 / freq[1:][np.argmax(power[1:])], rel=1e-6)
    assert 0 < bands["seasonality"][3, 4] <= 1


def test_emerging_hot_spots_on_points_and_raster(tmp_path):
    import geopandas as gpd

    result = run_command(
        "emerginghotspots",
        {
            "source": {"points": PM10},
            "output": str(tmp_path / "h.gpkg"),
            "time_step": "7D",
            "output_report": str(tmp_path / "h.html"),
        },
    )
    frame = gpd.read_file(result.outputs["OUTPUT"])
    assert len(frame) == 68 and set(frame["category"]) <= set(CODE)
    assert frame["trend_p"].between(0, 1).all()
    raster = run_command(
        "emerginghotspots",
        {
            "source": {"raster": str(HOURLY)},
            "output": str(tmp_path / "h.tif"),
            "time_step": "1D",
            "neighbourhood": "rook",
        },
    )
    with rasterio.open(raster.outputs["OUTPUT"]) as src:
        codes = src.read(1)
        assert src.descriptions[0] == "category_code" and "CATEGORIES" in src.tags()
    assert np.isin(codes[np.isfinite(codes)], list(CODE.values())).all()
    assert raster.summary["time_steps"] == 31


def test_isolated_points_are_reported(tmp_path):
    class Collect(Reporter):
        messages = []

        def warning(self, message):
            self.messages.append(message)

    reporter = Collect()
    run_command(
        "emerginghotspots",
        {"source": {"points": PM10}, "output": str(tmp_path / "h.gpkg"), "time_step": "7D", "distance": 20000},
        reporter,
    )
    assert any("no neighbour within the distance band" in m for m in reporter.messages)


def test_clustering_separates_distinct_profiles(tmp_path):
    import geopandas as gpd

    result = run_command(
        "timeseriesclustering",
        {
            "source": {"points": PM10},
            "output": str(tmp_path / "c.gpkg"),
            "output_profiles": str(tmp_path / "p.csv"),
            "n_clusters": 3,
            "output_report": str(tmp_path / "c.html"),
        },
    )
    frame = gpd.read_file(result.outputs["OUTPUT"])
    assert set(frame["cluster"]) == {1, 2, 3} and sum(result.summary["sizes"].values()) == 68
    profiles = pd.read_csv(tmp_path / "p.csv")
    assert set(profiles["cluster"]) == {1, 2, 3} and len(profiles) == 3 * 90
    from backend.diagnostics.clustering import fit_clusters

    t = np.arange(200)
    rng = np.random.default_rng(0)
    series = np.vstack(
        [np.sin(t / 10) * (1 + i % 3) + rng.normal(0, 0.1, 200) for i in range(20)]
        + [np.cos(t / 7) * (1 + i % 3) + rng.normal(0, 0.1, 200) for i in range(20)]
    )
    model = fit_clusters(series, 0, "shape")
    labels = model.predict(series)
    assert model.kmeans.n_clusters == 2 and len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1


def test_bad_inputs_are_clear(tmp_path):
    with pytest.raises(UserInputError, match="either a raster"):
        run_command("timeseriesdiagnostics", {"source": {}, "output": str(tmp_path / "x.gpkg")})
    with pytest.raises(UserInputError, match="at least 4"):
        run_command(
            "emerginghotspots", {"source": {"points": PM10}, "output": str(tmp_path / "h.gpkg"), "time_step": "30D"}
        )
    with pytest.raises(UserInputError, match="Raster neighbourhoods"):
        run_command(
            "emerginghotspots",
            {"source": {"raster": str(HOURLY)}, "output": str(tmp_path / "h.tif"), "neighbourhood": "knn"},
        )
    with pytest.raises(UserInputError, match="ask for fewer"):
        run_command(
            "timeseriesclustering", {"source": {"points": PM10}, "output": str(tmp_path / "c.gpkg"), "n_clusters": 100}
        )
    assert not list(tmp_path.iterdir())


def test_batched_stl_strength_equals_statsmodels_stl_per_series():
    from backend.diagnostics import series_tests

    rng = np.random.default_rng(3)
    t, period = 120, 12
    phase = 2 * np.pi * np.arange(t) / period
    amplitude = rng.uniform(0, 3, 150)
    values = amplitude * np.sin(phase)[:, None] + 0.02 * np.arange(t)[:, None] + rng.normal(0, 1, (t, 150))
    values[40:43, 5] = np.nan  # an interior gap: interpolated, still on the shared operator
    values[:10, 7] = np.nan  # a missing start: its own STL
    values[:, 9] = 4.0  # constant: no strength
    series_tests._stl_operators.clear()
    batched = series_tests.seasonality_strengths(values, period)
    assert (t, period) in series_tests._stl_operators  # 150 series ≥ 120 steps: the shared operator was used
    each = np.array([series_tests.seasonality_strength(values[:, k], period) for k in range(values.shape[1])])
    np.testing.assert_allclose(batched, each, rtol=0, atol=1e-10, equal_nan=True)
    assert np.isnan(batched[9]) and 0.0 <= np.nanmin(batched) and np.nanmax(batched) <= 1.0
    few = series_tests.seasonality_strengths(values[:, :3], 24)  # few series, another period: per-series STL
    np.testing.assert_allclose(few, [series_tests.seasonality_strength(values[:, k], 24) for k in range(3)])


def _holed_daily_stack(tmp_path):
    """The hourly ERA5 sample with a no-data corner written to tmp_path: (path, hourly values float64[T, H, W],
    cell size, daily means float64[D, H, W])."""
    from backend.diagnostics.sources import aggregate

    with rasterio.open(HOURLY) as src:
        values, cell = src.read(masked=True).filled(np.nan).astype(np.float64), abs(src.transform.a)
        times = pd.to_datetime([src.tags(b + 1)["time"] for b in range(src.count)]).to_numpy("datetime64[s]")
        profile, tags = src.profile, [src.tags(b + 1) for b in range(src.count)]
        dataset_tags, descriptions = src.tags(), src.descriptions
    values[:, :3, :5] = np.nan
    _, daily = aggregate(times, values.reshape(values.shape[0], -1), "1D")
    source = tmp_path / "holed.tif"
    with rasterio.open(source, "w", **{**profile, "nodata": np.nan}) as dst:
        dst.write(values.astype(profile["dtype"]))
        dst.update_tags(**dataset_tags)
        for b, band_tags in enumerate(tags):
            dst.update_tags(b + 1, **band_tags)
            dst.set_band_description(b + 1, descriptions[b])
    return source, values, cell, daily.reshape(-1, *values.shape[1:])


def test_raster_clustering_in_chunks_equals_the_whole_grid(tmp_path):
    """Chunks of 8×8 cells: the fit sees the same series in the same order as in memory, so every cell gets the
    in-memory cluster; profile means equal, percentiles the same."""
    from backend.diagnostics.clustering import cluster_profiles, fit_clusters

    source, _values, _cell, daily = _holed_daily_stack(tmp_path)
    series = daily.reshape(daily.shape[0], -1).T
    model = fit_clusters(series, 0, "shape", 3)
    labels = model.predict(series)
    expected = cluster_profiles(np.arange(daily.shape[0]), series, labels, int(model.kmeans.n_clusters))
    result = run_command(
        "timeseriesclustering",
        {
            "source": {"raster": str(source)},
            "output": str(tmp_path / "c.tif"),
            "output_profiles": str(tmp_path / "p.csv"),
            "time_step": "1D",
            "features": "shape",
            "seed": 3,
            "block": 8,
        },
    )
    with rasterio.open(result.outputs["OUTPUT"]) as src:
        got = src.read(1)
    assert model.kmeans.n_clusters >= 2 and result.summary["clusters"] == model.kmeans.n_clusters
    np.testing.assert_array_equal(np.nan_to_num(got, nan=0).ravel(), labels)
    profiles = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(profiles["members"], expected["members"])
    for column in ("mean", "p10", "p90"):
        np.testing.assert_allclose(profiles[column], expected[column], rtol=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif", "holed.tif", "p.csv"]


@pytest.mark.parametrize("neighbourhood, distance", [("queen", 0.0), ("distance_band", 2.5)])
def test_raster_hot_spots_in_chunks_equal_the_whole_grid(tmp_path, neighbourhood, distance):
    """Chunks of 8×8 cells (the kernel's halo crossing chunk edges, the FDR thresholds of the whole grid) give the
    in-memory engine's output; no scratch file is left."""
    from backend.diagnostics.hotspots import emerging_hot_spots, raster_hot_spot_series

    source, values, cell, daily = _holed_daily_stack(tmp_path)
    expected = emerging_hot_spots(raster_hot_spot_series(daily, cell, neighbourhood, distance * cell), 0.05)
    assert len(expected.counts) >= 3 and expected.hot.any() and expected.cold.any()
    result = run_command(
        "emerginghotspots",
        {
            "source": {"raster": str(source)},
            "output": str(tmp_path / "h.tif"),
            "time_step": "1D",
            "neighbourhood": neighbourhood,
            "distance": distance * cell,
            "block": 8,
        },
    )
    with rasterio.open(result.outputs["OUTPUT"]) as src:
        bands = src.read().astype(np.float64)
        assert src.width > 8 and src.height > 8
    height, width = values.shape[1:]
    for index, name in enumerate(["category_code", "trend_z", "trend_p", "hot_steps", "cold_steps"]):
        want = np.where(expected.observed, np.asarray(expected.columns[name], np.float64), np.nan)
        np.testing.assert_allclose(bands[index], want.reshape(height, width).astype(np.float32), rtol=1e-6, atol=1e-6)
    assert result.summary["categories"] == {k: int(v) for k, v in expected.counts.items()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.tif", "holed.tif"]


def test_bracketed_sens_slope_equals_the_median_of_all_slopes():
    """Gaps, ties, heavy ties (the bracket misses: all slopes sorted), constant, empty and one-value series."""
    from backend.diagnostics.trend import _sens_slope_all_pairs, sens_slope

    rng = np.random.default_rng(1)
    steps = 400
    x = np.cumsum(rng.normal(size=(steps, 80)), axis=0) + np.arange(steps)[:, None] * 0.01
    x[:, 10:20] = np.round(x[:, 10:20])
    x[:, 20:30] = rng.integers(0, 3, (steps, 10))
    x[:, 30], x[:, 31] = 5.0, np.nan
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 40:50] = np.nan_to_num(x[:, 40:50])
    x[:350, 60] = np.nan
    x[:, 61] = np.nan
    x[5, 61] = 1.0
    got = sens_slope(x)[0]
    np.testing.assert_array_equal(got, _sens_slope_all_pairs(x, 2_000_000))
    assert np.isfinite(got[:30]).all() and np.isnan(got[[31, 61]]).all()
