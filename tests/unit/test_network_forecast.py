"""Sensor-network forecasting: graphs, sensor tables, networks, baselines, model folders, bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from backend.commands import run_command
from backend.commands.inputs import SensorInput
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.baselines import BaselineSet, fit_ar
from backend.forecast.sensors.graph import (
    GraphSettings,
    build_adjacency,
    gaussian_adjacency,
    knn_adjacency,
    station_distances,
    transition_matrices,
)
from backend.forecast.windows import Normalisation
from backend.progress import Reporter
from tests.paths import SAMPLE, shared

torch = pytest.importorskip("torch")
METR = SAMPLE / "metr_la_subset"
WIND = SAMPLE / "ireland_wind_1976_1978.gpkg"


class Collect(Reporter):
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def metr_input(**extra) -> dict:
    return {
        "sensors": str(METR / "sensors.gpkg"),
        "id_field": "sensor_id",
        "observations": str(METR / "speed_wide.csv"),
        "missing_value": 0,
        **extra,
    }


@pytest.fixture(scope="module")
def metr_panel():
    return SensorInput(**metr_input()).read()


# --- graphs ----------------------------------------------------------------------------------


def test_geodesic_distances_in_metres():
    xy = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    d = station_distances(xy, "EPSG:4326")
    assert d[0, 1] == pytest.approx(110574.4, rel=1e-5)  # one degree of latitude at the equator (WGS 84)
    assert d[0, 2] == pytest.approx(111319.5, rel=1e-5)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)


def test_projected_distances_are_euclidean_and_feet_refused():
    xy = np.array([[0.0, 0.0], [3000.0, 4000.0]])
    assert station_distances(xy, "EPSG:32632")[0, 1] == pytest.approx(5000.0)
    with pytest.raises(UserInputError, match="reproject"):
        station_distances(xy, "EPSG:2249")  # Massachusetts, US survey feet


def test_gaussian_and_knn_graphs():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 10000, size=(20, 2))
    d = station_distances(xy, "EPSG:32632")
    w = gaussian_adjacency(d, threshold=0.3)
    assert np.all(np.diag(w) == 1) and np.allclose(w, w.T)
    off = w[~np.eye(20, dtype=bool)]
    assert np.all((off == 0) | (off >= 0.3))
    sigma = d[d > 0].std()
    i, j = np.argwhere((w > 0) & ~np.eye(20, dtype=bool))[0]
    assert w[i, j] == pytest.approx(np.exp(-((d[i, j] / sigma) ** 2)), rel=1e-5)
    k = knn_adjacency(d, 3)
    assert ((k > 0).sum(axis=1) - 1 >= 3).all() and np.allclose(k, k.T)
    supports = transition_matrices(w)
    assert supports.shape == (2, 20, 20) and np.allclose(supports.sum(axis=2), 1, atol=1e-6)


def test_edge_table_graph_and_isolated_sensors(metr_panel):
    reporter = Collect()
    w = build_adjacency(
        GraphSettings("edges", edges=str(METR / "edges.csv")), metr_panel.ids, metr_panel.xy, metr_panel.crs, reporter
    )
    edges = pd.read_csv(METR / "edges.csv")
    row = edges[edges["from"] != edges["to"]].iloc[0]
    ids = list(metr_panel.ids)
    assert w[ids.index(str(int(row["from"]))), ids.index(str(int(row["to"])))] == pytest.approx(row["weight"], rel=1e-6)
    tiny = build_adjacency(
        GraphSettings("gaussian", sigma=0.01), metr_panel.ids, metr_panel.xy, metr_panel.crs, reporter
    )
    assert np.array_equal(tiny, np.eye(len(ids)))
    assert any("no neighbour" in m for m in reporter.warnings)


# --- sensor tables ---------------------------------------------------------------------------------


def test_wide_and_long_tables_give_the_same_panel(metr_panel, tmp_path):
    wide = pd.read_csv(METR / "speed_wide.csv")
    long = wide.melt(id_vars="time", var_name="sensor_id", value_name="speed").sample(frac=1.0, random_state=0)
    long.to_csv(tmp_path / "long.csv", index=False)
    panel = SensorInput(**metr_input(observations=str(tmp_path / "long.csv"), value_field="speed")).read()
    assert list(panel.ids) == list(metr_panel.ids)
    np.testing.assert_array_equal(panel.times, metr_panel.times)
    np.testing.assert_array_equal(panel.values, metr_panel.values)
    assert metr_panel.values.shape == (30, 2880)
    raw = wide.drop(columns="time").to_numpy().T
    assert np.isnan(metr_panel.values[raw == 0]).all() and np.isfinite(metr_panel.values[raw > 0]).all()


def test_parquet_table(metr_panel, tmp_path):
    pytest.importorskip("pyarrow")
    pd.read_csv(METR / "speed_wide.csv").to_parquet(tmp_path / "speed.parquet")
    panel = SensorInput(**metr_input(observations=str(tmp_path / "speed.parquet"))).read()
    np.testing.assert_array_equal(panel.values, metr_panel.values)


def test_sensor_table_problems_are_clear(tmp_path):
    import geopandas as gpd

    sensors = gpd.read_file(METR / "sensors.gpkg")
    twin = pd.concat([sensors, sensors.iloc[[0]].assign(geometry=sensors.geometry.iloc[[1]].values)])
    twin.to_file(tmp_path / "twin.gpkg", driver="GPKG")
    with pytest.raises(UserInputError, match="different places"):
        SensorInput(**metr_input(sensors=str(tmp_path / "twin.gpkg"))).read()
    wide = pd.read_csv(METR / "speed_wide.csv")
    wide.rename(columns={c: f"x{c}" for c in wide.columns[1:]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(UserInputError, match="No sensor id"):
        SensorInput(**metr_input(observations=str(tmp_path / "other.csv"))).read()
    pd.concat([wide, wide.iloc[[5]]]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(UserInputError, match="more than one row"):
        SensorInput(**metr_input(observations=str(tmp_path / "dup.csv"))).read()
    with pytest.raises(UserInputError, match="SENSORS"):
        SensorInput(id_field="sensor_id").read()


# --- networks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["graph_gru", "st_transformer", "fc_lstm"])
def test_network_shapes_and_graph_use(architecture):
    from backend.forecast.sensors.architectures import build_sensor_network

    torch.manual_seed(0)
    n, lookback, horizon = 5, 6, 3
    w = np.eye(n, dtype=np.float32)
    w[0, 1] = w[1, 0] = 1.0  # sensors 0 and 1 linked, the others alone
    net = build_sensor_network(architecture, transition_matrices(w), n, lookback, horizon, 8, 6).eval()
    x = torch.randn(2, lookback, n, 8)
    future = torch.randn(2, horizon, 6)
    out = net(x, future)
    assert out.shape == (2, 3, horizon, n)
    bumped = x.clone()
    bumped[:, :, 1, 0] += 3.0  # change sensor 1's history only
    moved = (net(bumped, future) - out).abs().amax(dim=(0, 1, 2))
    assert moved[1] > 0
    if architecture == "fc_lstm":
        assert torch.all(moved[[0, 2, 3, 4]] == 0)  # no graph: neighbours unaffected
    elif architecture == "graph_gru":
        assert moved[0] > 0 and torch.all(moved[2:] == 0)  # only the linked sensor feels it
    else:
        assert torch.all(moved > 0)  # attention over all sensors


@pytest.mark.parametrize("architecture", ["graph_gru", "st_transformer", "fc_lstm"])
def test_anchored_networks_read_the_profile_of_each_sensor_s_target_steps(architecture):
    from backend.forecast.sensors.architectures import build_sensor_network

    torch.manual_seed(0)
    n, lookback, horizon = 4, 6, 3
    net = build_sensor_network(
        architecture, transition_matrices(np.eye(n, dtype=np.float32)), n, lookback, horizon, 8, 6, True
    )
    x, future, anchors = torch.randn(2, lookback, n, 9), torch.randn(2, horizon, 6), torch.randn(2, horizon, n)
    out = net.eval()(x, future, anchors)
    assert out.shape == (2, 3, horizon, n)
    moved = anchors.clone()
    moved[:, :, 2] += 1.0  # sensor 2's profile only
    change = (net(x, future, moved) - out).abs().amax(dim=(0, 1, 2))
    assert change[2] > 0 and torch.all(change[[0, 1, 3]] == 0)  # the head is per sensor


def test_network_inputs_carry_the_profile_to_the_forecast_steps_after_the_data(metr_panel):
    from backend.forecast.sensors.training import SensorArrays

    values, times = metr_panel.values.T.astype(np.float32), metr_panel.times
    step = metr_panel.on_regular_axis()[1]
    baselines = BaselineSet(values, times, step, 400, weekly=True)
    norm = Normalisation.fit(values[:400])
    arrays = SensorArrays.prepare(values, times, step, norm, 3, baselines.climatology.means)
    last_origin = np.array([times.size - 1])
    (x, future, anchors), last = arrays.batch(last_origin, 6, 3)
    assert (
        x.shape == (1, 6, values.shape[1], 9) and future.shape == (1, 3, 6) and anchors.shape == (1, 3, values.shape[1])
    )
    profile = baselines.predict("historical_average", times.size - 1, 3)  # data units, the 3 steps after the data
    np.testing.assert_allclose(anchors[0] + last[0], norm.apply(profile), rtol=1e-5, atol=1e-5)
    plain = SensorArrays.prepare(values, times, step, norm, 3)
    (x_plain, _), _ = plain.batch(last_origin, 6, 3)
    assert x_plain.shape[-1] == 8 and np.array_equal(x_plain[..., :2], x[..., :2])


# --- baselines -------------------------------------------------------------------------------------


def test_network_baselines_follow_their_definitions(metr_panel):
    values, times = metr_panel.values.T, metr_panel.times
    baselines = BaselineSet(values, times, TimeStep(seconds=300), 2000, weekly=True)
    origins = np.array([2100, 2500])
    naive = baselines.predict_many("seasonal_naive", origins, 3)
    filled = baselines.filled
    assert np.array_equal(naive[1, 2], filled[2500 + 3 - 2016])
    season, count = baselines.seasons, baselines.n_seasons
    assert count == 2016 and season[0] == 3 * 288  # 2012-03-01 was a Thursday
    ha = baselines.predict_many("historical_average", origins, 1)[0, 0]
    same = (season[:2000] == season[2101]) & np.isfinite(values[:2000, 0])
    assert ha[0] == pytest.approx(values[:2000][same, 0].mean(), rel=1e-5)


def test_ar_baseline_matches_statsmodels():
    from statsmodels.tsa.ar_model import AutoReg

    rng = np.random.default_rng(3)
    x = np.zeros(600)
    for t in range(2, 600):
        x[t] = 0.6 * x[t - 1] - 0.3 * x[t - 2] + rng.normal()
    params = fit_ar(x[:, None], max_lag=6)[0]
    reference = AutoReg(x, lags=params.size - 1, trend="c").fit()
    np.testing.assert_allclose(params, reference.params, rtol=1e-10)
    assert params.size - 1 == 2


# --- train, save, forecast -----------------------------------------------------------------------


def train_sample(folder, **config):
    """Two short epochs of a tiny graph GRU on the repo's METR-LA sample, blended with the baselines."""
    request = {
        "sensors": metr_input(),
        "graph": {"kind": "edges", "edges": str(METR / "edges.csv")},
        "config": {
            "architecture": "graph_gru",
            "lookback": 6,
            "horizon": 3,
            "epochs": 2,
            "hidden": 8,
            "max_batches_per_epoch": 6,
            "max_validation_windows": 100,
        }
        | config,
        "output_model": str(folder / "model"),
        "output_report": str(folder / "report.html"),
        "device": "cpu",
    }
    return folder, run_command("trainnetworkforecaster", request)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_sample(tmp_path_factory.mktemp("net"))


@pytest.fixture(scope="module")
def network_alone(tmp_path_factory):
    """The same training with the blend held at the network alone (weights 1, 0, …): a model that loses."""
    from backend.forecast import blend

    def network_only(cls, forecasts, truth, metric):
        names = list(forecasts)
        nan = [float("nan")] * truth.shape[1]
        weights = [[1.0] + [0.0] * (len(names) - 1)] * truth.shape[1]
        return cls(names, weights, metric, {name: nan for name in names + ["blend"]})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blend.HorizonBlend, "fit", classmethod(network_only))
        return train_sample(tmp_path_factory.mktemp("net_alone"))


def test_training_reports_held_out_scores_against_baselines(trained):
    folder, result = trained
    test = result.summary["test"]
    assert set(test["scores"]) == {
        "model",
        "network",
        "persistence",
        "historical_average",
        "seasonal_naive",
        "exponential_smoothing",
        "ar",
    }
    for scores in test["scores"].values():
        assert all(np.isfinite(scores["mae"])) and len(scores["mae"]) == 3
        assert all(r >= m for r, m in zip(scores["rmse"], scores["mae"]))
    assert test["windows"] == 576 - 3 - 6 + 7  # windows whose 3 targets lie in the last 20 % (576 steps)
    config = json.loads((folder / "model" / "config.json").read_text())
    assert config["format"] == "st_analyzer.network_forecaster" and len(config["sensors"]["ids"]) == 30
    assert config["missing_value"] == 0
    blend = config["blend"]
    assert blend["names"][0] == "network" and blend["metric"] == "mae" and blend["weekly"] is True
    assert len(blend["weights"]) == 3 and all(abs(sum(row) - 1) < 1e-9 and min(row) >= 0 for row in blend["weights"])
    for h in range(3):  # on the validation windows the blend is at least as good as every part alone
        assert blend["validation_scores"]["blend"][h] <= min(v[h] for v in blend["validation_scores"].values()) + 1e-12
    assert (folder / "model" / "baselines.npz").exists()
    html = (folder / "report.html").read_text()
    assert "historical_average" in html and "<img" in html and "Blend of the network with the baselines" in html


def test_forecast_writes_one_feature_per_sensor_and_step(trained, tmp_path):
    import geopandas as gpd

    folder, _ = trained
    out = tmp_path / "forecast.gpkg"
    result = run_command(
        "forecastnetwork",
        {
            "sensors": {**metr_input(), "missing_value": None},
            "model": str(folder / "model"),
            "output": str(out),
            "origin": "2012-03-06T07:30:00",
        },
    )
    frame = gpd.read_file(out)
    assert len(frame) == 30 * 3 and result.summary["origin"] == "2012-03-06T07:30:00Z"
    assert set(frame.columns) >= {"station_id", "time", "step", "forecast", "lower", "upper", "geometry"}
    assert (frame["lower"] <= frame["forecast"]).all() and (frame["forecast"] <= frame["upper"]).all()
    first = frame[frame["step"] == 1]
    assert (pd.to_datetime(first["time"]) == pd.Timestamp("2012-03-06T07:35:00")).all()
    assert frame["forecast"].between(0, 90).all()


def test_model_folders_from_before_the_blend_still_forecast(tmp_path):
    """A folder of the network alone (no profile input, no blend, no baselines.npz) forecasts the network's values;
    a blended folder without its baselines.npz is refused clearly."""
    folder, _ = train_sample(tmp_path, profile_input=False)
    config_path = folder / "model" / "config.json"
    config = json.loads(config_path.read_text())
    assert config["profile_input"] is False
    request = {
        "sensors": {**metr_input(), "missing_value": None},
        "model": str(folder / "model"),
        "output": str(tmp_path / "blended.gpkg"),
        "origin": "2012-03-06T07:30:00",
    }
    (folder / "model" / "baselines.npz").rename(tmp_path / "baselines.npz")
    with pytest.raises(UserInputError, match="baselines.npz is missing"):
        run_command("forecastnetwork", request)
    (tmp_path / "baselines.npz").rename(folder / "model" / "baselines.npz")
    blended = run_command("forecastnetwork", request)
    config.pop("blend")
    config.pop("profile_input")
    config_path.write_text(json.dumps(config))
    (folder / "model" / "baselines.npz").unlink()
    alone = run_command("forecastnetwork", request | {"output": str(tmp_path / "alone.gpkg")})
    assert alone.summary["features"] == blended.summary["features"] == 30 * 3


def test_forecast_maps_sensors_by_id(trained, tmp_path):
    import geopandas as gpd

    folder, _ = trained
    sensors = gpd.read_file(METR / "sensors.gpkg")
    sensors.iloc[3:].to_file(tmp_path / "fewer.gpkg", driver="GPKG")
    reporter = Collect()
    run_command(
        "forecastnetwork",
        {
            "sensors": metr_input(sensors=str(tmp_path / "fewer.gpkg")),
            "model": str(folder / "model"),
            "output": str(tmp_path / "f.gpkg"),
        },
        reporter,
    )
    assert any("3 of the model's 30 sensors are not in the input" in m for m in reporter.warnings)
    sensors.iloc[:10].to_file(tmp_path / "few.gpkg", driver="GPKG")
    with pytest.raises(UserInputError, match="only 10 of them"):
        run_command(
            "forecastnetwork",
            {
                "sensors": metr_input(sensors=str(tmp_path / "few.gpkg")),
                "model": str(folder / "model"),
                "output": str(tmp_path / "g.gpkg"),
            },
        )
    assert not (tmp_path / "g.gpkg").exists()


def test_forecast_refuses_another_time_step_and_short_history(trained, tmp_path):
    folder, _ = trained
    with pytest.raises(UserInputError, match="time step"):
        run_command(
            "forecastnetwork",
            {
                "sensors": metr_input(),
                "resample": "15min",
                "model": str(folder / "model"),
                "output": str(tmp_path / "f.gpkg"),
            },
        )
    with pytest.raises(UserInputError, match="needs the last 6"):
        run_command(
            "forecastnetwork",
            {
                "sensors": metr_input(),
                "origin": "2012-03-01T00:10:00",
                "model": str(folder / "model"),
                "output": str(tmp_path / "f.gpkg"),
            },
        )


def test_long_point_layer_with_geographic_graph(tmp_path):
    request = {
        "sensors": {
            "id_field": "station_id",
            "points": {
                "path": str(WIND),
                "format": "long",
                "id_field": "station_id",
                "time_field": "date",
                "value_field": "wind_speed_knots",
            },
        },
        "graph": {"kind": "knn", "k": 3},
        "config": {"architecture": "fc_lstm", "lookback": 7, "horizon": 1, "epochs": 2, "hidden": 8},
        "output_model": str(tmp_path / "wind"),
        "device": "cpu",
    }
    result = run_command("trainnetworkforecaster", request)
    assert result.summary["sensors"] == 12
    assert np.isfinite(result.summary["test"]["scores"]["model"]["rmse"][0])


def test_bad_requests_are_clear(tmp_path):
    base = {"sensors": metr_input(), "output_model": str(tmp_path / "m"), "device": "cpu"}
    with pytest.raises(UserInputError, match="too short"):
        run_command("trainnetworkforecaster", {**base, "config": {"lookback": 2000, "horizon": 12}})
    with pytest.raises(UserInputError, match="Unknown model type"):
        run_command("trainnetworkforecaster", {**base, "config": {"architecture": "dcrnn++"}})
    with pytest.raises(UserInputError, match="edge table"):
        run_command("trainnetworkforecaster", {**base, "graph": {"kind": "edges"}})
    with pytest.raises(UserInputError, match="irregular"):
        irregular = pd.read_csv(METR / "speed_wide.csv").drop(index=[3, 10, 11, 40])
        irregular["time"] = pd.to_datetime(irregular["time"]) + pd.to_timedelta(np.arange(len(irregular)) % 3, "s")
        irregular.to_csv(tmp_path / "irregular.csv", index=False)
        run_command(
            "trainnetworkforecaster", {**base, "sensors": metr_input(observations=str(tmp_path / "irregular.csv"))}
        )
    if not torch.cuda.is_available():
        with pytest.raises(UserInputError, match="CUDA was requested"):
            run_command("trainnetworkforecaster", {**base, "device": "cuda"})
    assert not (tmp_path / "m").exists()


def test_full_metr_la_reads_with_the_dcrnn_graph():
    data = np.load(shared("metr_la/speed_train_val.npz"), allow_pickle=False)
    sensors = pd.read_csv(shared("metr_la/sensors.csv"))
    assert list(sensors["sensor_id"]) == list(data["sensor_id"])
    w = build_adjacency(
        GraphSettings("edges", edges=str(shared("metr_la/adj_dcrnn.csv"))),
        data["sensor_id"].astype(str),
        sensors[["lon", "lat"]].to_numpy(),
        "EPSG:4326",
    )
    assert (w > 0).sum() == 1722 and not np.allclose(w, w.T)  # directed road-network weights as published


def test_anomalies_against_the_trained_forecaster(trained, tmp_path):
    import geopandas as gpd

    folder, _ = trained
    wide = pd.read_csv(METR / "speed_wide.csv").iloc[-576:]
    long = wide.melt(id_vars="time", var_name="sensor_id", value_name="speed")
    sensors = gpd.read_file(METR / "sensors.gpkg").assign(sensor_id=lambda f: f["sensor_id"].astype(str))
    long = long.merge(sensors, on="sensor_id")
    spike = (long["sensor_id"] == "773869") & long["time"].between("2012-03-10T12:00:00", "2012-03-10T12:25:00")
    long.loc[spike, "speed"] = 15.0  # a 30-min collapse at one detector, its neighbours normal
    gpd.GeoDataFrame(long, geometry="geometry", crs=sensors.crs).to_file(tmp_path / "obs.gpkg", driver="GPKG")
    result = run_command(
        "detectpointanomalies",
        {
            "points": {
                "path": str(tmp_path / "obs.gpkg"),
                "format": "long",
                "id_field": "sensor_id",
                "time_field": "time",
                "value_field": "speed",
            },
            "detection": {"model": str(folder / "model"), "smooth_steps": 1, "threshold": 6.0},
            "output": str(tmp_path / "scored.gpkg"),
        },
    )
    scored = gpd.read_file(tmp_path / "scored.gpkg")
    hit = scored[(scored["station_id"] == "773869") & (scored["time"] == pd.Timestamp("2012-03-10T12:00:00"))]
    assert hit["is_anomaly"].iloc[0] == 1
    assert scored.loc[scored["observed"] == 0, "score"].eq(0).all()  # zeros are missing readings for this model
    assert np.isnan(scored.loc[scored["time"] < pd.Timestamp("2012-03-09T00:30:00"), "expected"]).all()
    assert result.summary["flagged"] < 0.025 * len(scored)


def test_readings_coded_zero_for_no_data_are_named_before_training():
    """The METR-LA sample read without MISSING_VALUE: its zeros (12 %, network-wide outages) are named with the
    parameter to set; with MISSING_VALUE 0, and on real-valued data, nothing is said."""
    from backend.commands.network_forecast import warn_of_missing_code
    from backend.data.missing_codes import suspected_missing_code

    raw = metr_input()
    raw.pop("missing_value")
    reporter = Collect()
    warn_of_missing_code(SensorInput(**raw).read().values.T, reporter)
    assert len(reporter.warnings) == 1 and "set MISSING_VALUE 0" in reporter.warnings[0]
    assert "12.1 % of the readings are exactly 0" in reporter.warnings[0] and "network-wide" in reporter.warnings[0]
    quiet = Collect()
    warn_of_missing_code(SensorInput(**metr_input()).read().values.T, quiet)
    from backend.commands.inputs import PointInput

    wind = PointInput(path=str(WIND), id_field="station_id", time_field="date", value_field="wind_speed_knots").read()
    warn_of_missing_code(wind.values.T, quiet)
    assert quiet.warnings == []
    logger = np.random.default_rng(0).normal(15, 5, size=(500, 4))
    logger[::7, 2] = -9999.0  # a logger's code in one column
    assert suspected_missing_code(logger).value == -9999.0


def test_the_blend_with_the_baselines_is_not_worse_than_the_best_baseline_on_held_out_windows(trained, network_alone):
    _, blended = trained
    _, alone = network_alone
    assert all(s < 0 for s in alone.summary["test"]["skill_mae"])  # two short epochs: behind the baselines …
    assert all(s > -0.01 for s in blended.summary["test"]["skill_mae"])  # … but not once blended (weights: validation)
    network = alone.summary["test"]["scores"]["model"]["mae"]
    assert blended.summary["test"]["scores"]["network"]["mae"] == pytest.approx(network, rel=1e-6)


def test_a_model_worse_than_a_baseline_says_so_first_with_its_likely_causes(network_alone):
    from backend.forecast.model_files import negative_skill_text

    folder, result = network_alone
    skill = result.summary["test"]["skill_mae"]
    losing = [h for h, s in enumerate(skill) if s < 0]
    assert losing  # two short epochs of a tiny network, not blended: behind the baselines
    report = (folder / "report.html").read_text()
    assert report.index("worse than a simple baseline") < report.index("Model")
    assert "Likely causes" in report and f"+{losing[0] + 1} (" in report
    assert negative_skill_text("MAE", [0.1, 0.0], ["last value"] * 2, ["x"]) is None
    text = negative_skill_text("MAE", [0.1, -0.25], ["last value", "historical average"], ["too few epochs"])
    assert "at 1 of 2 horizon steps" in text and "+2 (historical average, -25%)" in text and "too few epochs" in text
