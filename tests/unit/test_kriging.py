"""Space-time variogram, model file, fitting, kriging and cross-validation on the PM10 sample."""

import functools
import json

import numpy as np
import pytest

from backend.commands import run_command
from backend.data.point_io import PointLayerRef, read_long_points
from backend.data.point_panel import PointPanel
from backend.errors import UserInputError
from backend.kriging.cross_validation import leave_one_station_out
from backend.kriging.fitting import fit_model, initial_model
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, default_st_ani, krige, observations
from backend.kriging.sample_variogram import sample_variogram
from backend.kriging.st_models import SpaceTimeModel
from backend.progress import Reporter
from tests.collect import CollectingReporter
from tests.paths import PM10_Q1, REPO

MODELS = json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())
PM10_INPUT = {"path": str(PM10_Q1), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}


@functools.cache
def pm10():
    return read_long_points(PointLayerRef(str(PM10_Q1)), "station_id", "date", "pm10")


def test_sample_variogram_equals_brute_force_pairs():
    panel = pm10()
    v = sample_variogram(panel, cutoff=300000, width=50000, tlags=2, time_step_seconds=86400)
    # brute force for time lag 1, bin [50 km, 100 km)
    d = np.linalg.norm(panel.xy[:, None] - panel.xy[None], axis=-1)
    a, b = panel.values[:, :-1], panel.values[:, 1:]
    sq, n = 0.0, 0
    for i in range(panel.n_stations):
        for j in range(panel.n_stations):
            if 50000 <= d[i, j] < 100000:
                ok = np.isfinite(a[i]) & np.isfinite(b[j])
                sq += float(((a[i][ok] - b[j][ok]).astype(float) ** 2).sum())
                n += int(ok.sum())
    row = np.flatnonzero((v.timelag == 1) & (np.isclose(v.spacelag, 75000)))[0]
    assert v.np[row] == n and v.gamma[row] == pytest.approx(0.5 * sq / n, rel=1e-9)
    zero = np.flatnonzero((v.timelag == 1) & (v.spacelag == 0))[0]
    assert v.dist[zero] == 0 and v.np[zero] > 0  # same-station pairs one day apart


def test_model_json_round_trip_and_gstat_shorthand():
    model = SpaceTimeModel.from_dict(MODELS["separable_mat"])
    assert model.space.nugget == 0.1 and model.space.structure.model == "Mat"
    again = SpaceTimeModel.from_dict(json.loads(json.dumps(model.to_dict())))
    h, u = np.array([0.0, 5e4, 2e5]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(again.covariance(h, u), model.covariance(h, u))
    assert model.total_sill == pytest.approx(140.0)


@pytest.mark.parametrize("name", list(MODELS))
def test_covariance_and_variogram_are_consistent(name):
    model = SpaceTimeModel.from_dict(MODELS[name])
    h = np.array([1e3, 5e4, 2e5, 8e5])
    u = np.array([1.0, 2.0, 5.0, 30.0])
    np.testing.assert_allclose(model.covariance(h, u) + model.gamma(h, u), model.total_sill, rtol=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            {
                "stModel": "separable",
                "space": [{"model": "Exp", "psill": -1, "range": 1}],
                "time": [{"model": "Exp", "psill": 1, "range": 1}],
                "sill": 1,
            },
            "partial sill must be between 0 and",
        ),
        (
            {"stModel": "metric", "joint": [{"model": "Exp", "psill": 1e308, "range": 5}], "stAni": 1},
            "partial sill must be between 0 and 1e\\+100",
        ),
        (
            {"stModel": "metric", "joint": [{"model": "Exp", "psill": 1, "range": 5}], "stAni": 1e308},
            "stAni must be > 0 and at most",
        ),
        (
            {"stModel": "metric", "joint": [{"model": "Exp", "psill": 1, "range": 0}], "stAni": 1},
            "range of a Exp model must be > 0",
        ),
        ({"stModel": "metric", "joint": [{"model": "Exp", "psill": 1, "range": 5}]}, "needs 'stAni'"),
        ({"stModel": "fancy"}, "Unknown space-time model"),
        ({"stModel": "metric", "joint": [{"model": "Wav", "psill": 1, "range": 5}], "stAni": 1}, "unknown model 'Wav'"),
    ],
)
def test_bad_model_files_are_refused(bad, message):
    with pytest.raises(UserInputError, match=message):
        SpaceTimeModel.from_dict(bad)


def test_unreadable_model_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{ not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        SpaceTimeModel.load(path)


def test_fit_recovers_a_known_model_from_its_own_surface():
    true = SpaceTimeModel.from_dict(MODELS["metric"])
    panel = pm10()
    v = sample_variogram(panel, 300000, 20000, 6, 86400).valid()
    v.gamma = true.gamma(v.dist, v.timelag)  # a noise-free "sample" variogram from the true model
    fit = fit_model(v, initial_model("metric", v, basic="Gau"), fit_method=6)
    assert fit.mse < 1e-3
    assert fit.model.joint.structure.range == pytest.approx(300000, rel=0.02)
    assert fit.model.stAni == pytest.approx(50000, rel=0.02)


def test_local_kriging_interpolates_the_data_and_variance_is_small_there():
    model = SpaceTimeModel.from_dict(MODELS["separable"])
    data = observations(pm10(), model, pm10().times[0])
    pick = np.arange(0, data.t.size, 500)
    pred, var = krige(data, SpaceTimePoints(data.xy[pick], data.t[pick]), model, KrigingOptions(nmax=30, st_ani=60000))
    np.testing.assert_allclose(pred, data.z[pick], atol=1e-6)  # exact interpolator at data points
    assert np.all(var < 1e-6)


def test_simple_kriging_far_away_returns_the_known_mean():
    model = SpaceTimeModel.from_dict(MODELS["separable"])
    data = observations(pm10(), model, pm10().times[0])
    far = SpaceTimePoints(np.array([[1e8, 1e8]]), np.array([10.0]))
    pred, var = krige(data, far, model, KrigingOptions(nmax=20, st_ani=60000, mean=17.0))
    assert pred[0] == pytest.approx(17.0) and var[0] == pytest.approx(model.total_sill)


def test_global_and_local_agree_when_the_neighbourhood_holds_all_data():
    model = SpaceTimeModel.from_dict(MODELS["sumMetric"])
    panel = pm10()
    small = PointPanel(panel.ids[:12], panel.xy[:12], panel.crs, panel.times[:8], panel.values[:12, :8])
    data = observations(small, model, small.times[0])
    targets = SpaceTimePoints(np.array([[500000.0, 5.6e6], [650000.0, 5.9e6]]), np.array([2.5, 6.0]))
    global_ = krige(data, targets, model, KrigingOptions(nmax=None))
    local = krige(data, targets, model, KrigingOptions(nmax=data.t.size - 1, buffer_nmax=1.0))
    everything = krige(data, targets, model, KrigingOptions(nmax=data.t.size))
    np.testing.assert_allclose(everything, global_, rtol=1e-9)
    assert np.all(np.abs(local[0] - global_[0]) < 5.0)


def test_duplicate_station_location_without_nugget_gets_a_jitter_warning():
    model = SpaceTimeModel.from_dict(
        {"stModel": "metric", "joint": [{"model": "Gau", "psill": 100, "range": 2e5}], "stAni": 5e4}
    )
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [1e4, 0.0], [0.0, 2e4]])
    data = SpaceTimePoints(xy, np.zeros(4), np.array([1.0, 1.5, 2.0, 3.0]))
    warnings = []

    class Catch:
        def warning(self, text):
            warnings.append(text)

        def progress(self, *args):
            pass

    pred, _ = krige(
        data, SpaceTimePoints(np.array([[5e3, 5e3]]), np.zeros(1)), model, KrigingOptions(nmax=None), reporter=Catch()
    )
    assert np.isfinite(pred).all() and warnings and "jitter" in warnings[0]


def test_cross_validation_beats_the_global_mean():
    panel = pm10()
    model = SpaceTimeModel.from_dict(MODELS["separable"])
    cv = leave_one_station_out(panel, model, KrigingOptions(nmax=30, st_ani=60000))
    observed = panel.values[np.isfinite(panel.values)]
    assert cv.metrics["n"] == observed.size
    assert cv.metrics["rmse"] < 0.65 * observed.std()  # far better than predicting the mean
    assert len(cv.per_station) == panel.n_stations and abs(cv.metrics["bias"]) < 1.0


def test_fit_command_writes_a_loadable_model_and_report(tmp_path):
    result = run_command(
        "fitstvariogram",
        {
            "points": PM10_INPUT,
            "output_model": str(tmp_path / "m.json"),
            "output_report": str(tmp_path / "r.html"),
            "variogram": {"model": "separable", "tlags": 4},
        },
    )
    model = SpaceTimeModel.load(tmp_path / "m.json")
    assert model.stModel == "separable" and model.fit["mse"] == pytest.approx(result.summary["mse"])
    assert "Fitted model" in (tmp_path / "r.html").read_text()


def test_grid_kriging_writes_prediction_and_variance_stacks(tmp_path):
    import rasterio

    (tmp_path / "m.json").write_text(json.dumps(MODELS["separable"]))
    result = run_command(
        "stkriging",
        {
            "points": dict(PM10_INPUT, units="µg/m³"),
            "model_file": str(tmp_path / "m.json"),
            "kriging": {"nmax": 30, "st_ani": 60000},
            "grid": {
                "xmin": 300000,
                "ymin": 5300000,
                "xmax": 900000,
                "ymax": 6100000,
                "pixel_size": 50000,
                "start": "2005-02-01",
                "end": "2005-02-03",
                "step": "1 day",
            },
            "output": str(tmp_path / "k.tif"),
        },
    )
    with rasterio.open(tmp_path / "k.tif") as pred, rasterio.open(tmp_path / "k_variance.tif") as var:
        assert pred.count == 3 and (pred.width, pred.height) == (12, 16)
        assert pred.descriptions[1] == "2005-02-02T00:00:00Z"
        values = pred.read()
        assert np.isfinite(values).all() and 0 < values.mean() < 60  # µg/m³
        assert (var.read() > 0).all()
        assert set(pred.units) == {"µg/m³"} and set(var.units) == {"(µg/m³)²"}  # units travel in the file
    assert (result.summary["units"], result.summary["variance_units"]) == ("µg/m³", "(µg/m³)²")


def test_point_targets_get_pred_and_var(tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(PM10_Q1).iloc[:25]
    frame.to_file(tmp_path / "targets.gpkg", driver="GPKG")
    (tmp_path / "m.json").write_text(json.dumps(MODELS["metric"]))
    run_command(
        "stkriging",
        {
            "points": PM10_INPUT,
            "model_file": str(tmp_path / "m.json"),
            "target_points": {"path": str(tmp_path / "targets.gpkg"), "time_field": "date"},
            "output_points": str(tmp_path / "out.gpkg"),
        },
    )
    out = gpd.read_file(tmp_path / "out.gpkg")
    assert len(out) == 25 and {"pred", "var", "pm10", "station_id"} <= set(out.columns)
    np.testing.assert_allclose(out["pred"], out["pm10"], atol=1e-6)  # targets are data points: exact


@pytest.mark.parametrize(
    "change, message",
    [
        ({"points": dict(PM10_INPUT, value_field="station_id")}, "non-numeric"),
        ({"kriging": {"nmax": 1}}, "at least 2, got 1"),
        (
            {"grid": {"xmin": 0, "ymin": 0, "xmax": 1, "ymax": 1, "pixel_size": 1, "step": "soon"}},
            "Cannot read the time step",
        ),
    ],
)
def test_kriging_bad_inputs(tmp_path, change, message):
    (tmp_path / "m.json").write_text(json.dumps(MODELS["metric"]))
    request = {
        "points": PM10_INPUT,
        "model_file": str(tmp_path / "m.json"),
        "output": str(tmp_path / "k.tif"),
        "grid": {
            "xmin": 300000,
            "ymin": 5300000,
            "xmax": 400000,
            "ymax": 5400000,
            "pixel_size": 50000,
            "start": "2005-02-01",
            "end": "2005-02-01",
        },
    }
    request.update(change)
    with pytest.raises(UserInputError, match=message):
        run_command("stkriging", request)
    assert not (tmp_path / "k.tif").exists()


def test_too_few_stations_and_constant_values(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    frame = gpd.GeoDataFrame(
        {"sid": ["a", "a", "b", "b"], "t": ["2020-01-01", "2020-01-02"] * 2, "v": [1.0, 2, 3, 4]},
        geometry=[Point(0, 0), Point(0, 0), Point(1000, 0), Point(1000, 0)],
        crs="EPSG:32632",
    )
    frame.to_file(tmp_path / "two.gpkg", driver="GPKG")
    points = {"path": str(tmp_path / "two.gpkg"), "id_field": "sid", "time_field": "t", "value_field": "v"}
    with pytest.raises(UserInputError, match="at least 3 stations"):
        run_command("fitstvariogram", {"points": points, "output_model": str(tmp_path / "m.json")})
    frame = gpd.GeoDataFrame(
        {"sid": ["a", "b", "c"] * 2, "t": ["2020-01-01"] * 3 + ["2020-01-02"] * 3, "v": [5.0] * 6},
        geometry=[Point(0, 0), Point(1000, 0), Point(0, 900)] * 2,
        crs="EPSG:32632",
    )
    frame.to_file(tmp_path / "flat.gpkg", driver="GPKG")
    with pytest.raises(UserInputError, match="constant field"):
        run_command(
            "fitstvariogram",
            {"points": dict(points, path=str(tmp_path / "flat.gpkg")), "output_model": str(tmp_path / "m.json")},
        )
    assert not (tmp_path / "m.json").exists()


def test_geographic_layer_is_refused_for_grids(tmp_path):
    import geopandas as gpd

    gpd.read_file(PM10_Q1).to_crs("EPSG:4326").to_file(tmp_path / "ll.gpkg", driver="GPKG")
    (tmp_path / "m.json").write_text(json.dumps(MODELS["metric"]))
    with pytest.raises(UserInputError, match="projected CRS in metres"):
        run_command(
            "stkriging",
            {
                "points": dict(PM10_INPUT, path=str(tmp_path / "ll.gpkg")),
                "model_file": str(tmp_path / "m.json"),
                "output": str(tmp_path / "k.tif"),
                "grid": {"xmin": 5, "ymin": 50, "xmax": 6, "ymax": 51, "pixel_size": 0.5},
            },
        )


def test_torch_solver_matches_numpy():
    pytest.importorskip("torch")
    model = SpaceTimeModel.from_dict(MODELS["productSum"])
    data = observations(pm10(), model, pm10().times[0])
    targets = SpaceTimePoints(
        np.array([[500000.0, 5.6e6], [650000.0, 5.9e6], [450000.0, 5.4e6]]), np.array([2.5, 6.0, 40.0])
    )
    by_numpy = krige(data, targets, model, KrigingOptions(nmax=40, st_ani=60000))
    by_torch = krige(data, targets, model, KrigingOptions(nmax=40, st_ani=60000, device="cpu"))
    np.testing.assert_allclose(by_torch, by_numpy, rtol=1e-10)


def test_best_by_cross_validation_keeps_the_lowest_cv_error(tmp_path):
    result = run_command(
        "fitstvariogram",
        {"points": PM10_INPUT, "output_model": str(tmp_path / "m.json"), "variogram": {"model": "best_cv", "tlags": 3}},
    )
    chosen = SpaceTimeModel.load(tmp_path / "m.json")
    assert set(result.summary["fits"]) == {"separable", "productSum", "metric", "sumMetric", "simpleSumMetric"}
    assert chosen.fit["cv_rmse"] > 0 and chosen.stModel == result.summary["model"]["stModel"]


def test_time_step_text_calendar_steps_and_bare_numbers():
    from backend.commands.st_kriging import prediction_step
    from backend.data.time_step import TimeStep

    assert prediction_step("1 day").seconds == 86400 and prediction_step("6h").seconds == 21600
    assert prediction_step("30min").seconds == 1800
    assert prediction_step("1M") == TimeStep(months=1) and prediction_step("1Y") == TimeStep(months=12)
    assert prediction_step("2", TimeStep(seconds=86400)).seconds == 2 * 86400  # two steps of daily data
    assert prediction_step("3", TimeStep(months=1)) == TimeStep(months=3)  # three months of monthly data
    with pytest.raises(UserInputError, match="has no unit"):
        prediction_step("2")
    with pytest.raises(UserInputError, match="must be positive"):
        prediction_step("-1 day")


def test_spatial_only_model_kriges_each_day_from_that_day_alone():
    from scipy.spatial.distance import cdist

    from backend.kriging.basic_models import BasicVariogram

    panel = pm10()
    variogram = BasicVariogram.of("Exp", 60.0, 150000.0, 15.0)
    model = SpaceTimeModel.spatial_only(variogram)
    data = observations(panel, model, panel.times[0])
    day = 3
    targets = SpaceTimePoints(np.array([[500000.0, 5600000.0], [700000.0, 5800000.0]]), np.full(2, float(day)))
    pred, var = krige(data, targets, model, KrigingOptions(nmax=None))
    at = data.t == day  # ordinary kriging from that day's stations only, written out
    xy, z = data.xy[at], data.z[at]
    n = z.size
    system = np.ones((n + 1, n + 1))
    system[:n, :n], system[n, n] = variogram.covariance(cdist(xy, xy)), 0.0
    for i in range(2):
        c0 = variogram.covariance(cdist(xy, targets.xy[i : i + 1]))[:, 0]
        weights = np.linalg.solve(system, np.append(c0, 1.0))
        assert pred[i] == pytest.approx(weights[:n] @ z, rel=1e-10)
        assert var[i] == pytest.approx(variogram.sill - weights @ np.append(c0, 1.0), rel=1e-10)
    nothing = krige(data, SpaceTimePoints(targets.xy, np.full(2, 1000.0)), model)[0]  # a day without data
    assert np.isnan(nothing).all()


def table_row(table, candidate):
    nmax = "all" if candidate.nmax is None else candidate.nmax
    st_ani = "model's" if candidate.st_ani is None else candidate.st_ani
    return table[(table["model"] == candidate.name) & (table["nmax"] == nmax) & (table["stAni"] == st_ani)].iloc[0]


def test_automatic_choice_ranks_spatial_kriging_and_neighbourhood_sizes_once():
    from backend.kriging.model_choice import simplicity
    from backend.kriging.workflow import model_for

    panel = pm10()
    days = panel.times < np.datetime64("2005-01-22")
    small = PointPanel(panel.ids, panel.xy, panel.crs, panel.times[days], panel.values[:, days])
    model, options, choice = model_for(small, None, KrigingOptions(nmax=0), Reporter())
    table = choice.table()
    assert "spatial per time step" in set(table["model"]) and len(set(table["model"])) == 6
    assert not table.duplicated(["model", "nmax", "stAni"]).any()  # each candidate cross-validated once
    assert table["RMSE"].iloc[0] == min(c.rmse for c in choice.candidates) == choice.lowest.rmse
    assert table.loc[table["used"], "within 1 SE of the lowest"].all() and table["used"].sum() == 1
    simpler_in_reach = [c for c in choice.candidates if table_row(table, c)["within 1 SE of the lowest"]]
    assert choice.best is min(simpler_in_reach, key=simplicity)  # the simplest within one SE of the lowest
    assert options.nmax == choice.best.nmax and model is choice.best.model
    assert set(table["nmax"]) >= {10, 20, 50} and model.fit["cv_nmax"] == (options.nmax or -1)
    # stage 3: the neighbour-search anisotropy of the best space-time candidate, ×¼ and ×4 of the model's
    scaled = [c for c in choice.candidates if c.st_ani is not None]
    space_time = [c for c in choice.candidates if not c.model.is_spatial_only and c.st_ani is None]
    finalist = min(space_time, key=lambda c: c.rmse)
    assert [(c.model, c.nmax) for c in scaled] == [(finalist.model, finalist.nmax)] * 2
    assert sorted(c.st_ani for c in scaled) == pytest.approx(
        [f * default_st_ani(finalist.model) for f in (0.25, 4.0)], rel=1e-12
    )
    assert options.st_ani == choice.best.st_ani and model.fit.get("cv_st_ani") == choice.best.st_ani
    fixed, fixed_options, fixed_choice = model_for(small, None, KrigingOptions(nmax=30, st_ani=4000.0), Reporter())
    assert fixed_options.nmax == 30 and set(fixed_choice.table()["nmax"]) == {30}
    assert fixed_options.st_ani == 4000.0 and set(fixed_choice.table()["stAni"]) == {"model's"}  # a given stAni


def test_model_file_of_spatial_kriging_per_day_gets_its_neighbourhood_by_cv(tmp_path):
    from backend.kriging.basic_models import BasicVariogram
    from backend.kriging.workflow import model_for

    panel = pm10()
    days = panel.times < np.datetime64("2005-01-15")
    small = PointPanel(panel.ids, panel.xy, panel.crs, panel.times[days], panel.values[:, days])
    SpaceTimeModel.spatial_only(BasicVariogram.of("Exp", 60.0, 150000.0, 15.0)).save(tmp_path / "spatial.json")
    model, options, choice = model_for(small, str(tmp_path / "spatial.json"), KrigingOptions(nmax=0), Reporter())
    assert model.is_spatial_only and set(choice.table()["model"]) == {"spatial per time step"}
    assert options.nmax == choice.best.nmax and len(choice.candidates) >= 3
    model.fit["cv_nmax"] = 20  # a model file that records its choice is not cross-validated again
    model.save(tmp_path / "chosen.json")
    _, chosen, again = model_for(small, str(tmp_path / "chosen.json"), KrigingOptions(nmax=0), Reporter())
    assert chosen.nmax == 20 and again is None


def test_all_data_requested_without_a_model_file_ranks_models_with_neighbourhoods_on_large_data():
    from backend.kriging.model_choice import ALL_DATA_CV_LIMIT
    from backend.kriging.workflow import model_for

    panel = pm10()
    assert np.isfinite(panel.values).sum() > ALL_DATA_CV_LIMIT
    reporter = CollectingReporter()
    _, options, choice = model_for(panel, None, KrigingOptions(nmax=None), reporter)
    assert options.nmax is None  # the request's all data is kept for the kriging
    table = choice.table()  # no all-data space-time system per left-out station for the ranking
    assert set(table.loc[table["model"] != "spatial per time step", "nmax"]) == {50}
    assert any("ranked with 50 neighbours" in m for m in reporter.logs)
