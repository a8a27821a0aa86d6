"""Raster forecasting: splits without leakage, baselines, training, model folders, forecasts, bad input."""

import json

import numpy as np
import pytest
import rasterio

from backend.commands import run_command
from backend.data.raster_io import read_stack, write_stack
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.baselines import BaselineSet
from backend.forecast.windows import Split, time_features
from backend.progress import Reporter
from tests.paths import SAMPLE

HOURLY = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    """First 240 hours of the ERA5 sample on a 12 × 16 crop (training data only, no evaluation bands)."""
    full = read_stack(HOURLY)
    grid = GridSpec(16, 12, full.grid.transform, full.grid.crs)
    stack = RasterStack(full.values[:240, :12, :16], full.times[:240], grid)
    path = tmp_path_factory.mktemp("stack") / "t2m_small.tif"
    write_stack(stack, path)
    return path, stack


def test_splits_keep_targets_inside_their_part():
    split = Split.by_fractions(744, 0.1, 75 / 744)
    assert split.val_end == 669  # band 670 onwards (the data set's evaluation bands) is test only
    for part, (low, high) in {
        "train": (0, split.train_end),
        "validation": (split.train_end, split.val_end),
        "test": (split.val_end, 744),
    }.items():
        origins = split.origins(part, 12, 6)
        assert origins.size > 0
        assert (origins + 1 >= low).all() and (origins + 6 < high).all()


def test_time_features_encode_hour_and_day_of_year():
    times = np.array(["2019-03-01T00", "2019-03-01T06", "2019-03-01T12"], dtype="datetime64[s]")
    features = time_features(times, TimeStep(seconds=3600))
    np.testing.assert_allclose(features[:, 0], [0, 1, 0], atol=1e-6)  # sin(hour angle)
    assert np.all(time_features(times, TimeStep(seconds=86400))[:, :2] == 0)  # daily data: no hour of day


def test_baselines_on_a_known_series():
    hours = np.arange(96)
    times = np.datetime64("2020-01-01T00:00:00") + hours.astype("timedelta64[h]")
    daily = 10 + 5 * np.sin(2 * np.pi * hours / 24)
    values = (daily + 0.1 * hours)[:, None, None].astype(np.float32) * np.ones((1, 2, 2), np.float32)
    values[50, 0, 0] = np.nan
    baselines = BaselineSet(values, times, TimeStep(seconds=3600), train_end=72)
    np.testing.assert_allclose(baselines.predict("persistence", 50, 3)[:, 0, 0], values[49, 0, 0])  # skips the gap
    clim = baselines.predict("climatology", 71, 24)[:, 1, 1]
    expected = np.array([np.mean(values[h:72:24, 1, 1]) for h in range(24)])
    np.testing.assert_allclose(clim, expected, rtol=1e-5)
    anomaly = baselines.predict("persisted_anomaly", 71, 1)[0, 1, 1]
    assert anomaly == pytest.approx(expected[0] + values[71, 1, 1] - expected[23], rel=1e-5)
    assert baselines.predict("exponential_smoothing", 80, 2).shape == (2, 2, 2)


def test_train_forecast_and_reload(tmp_path, small_stack):
    path, stack = small_stack
    result = run_command(
        "trainrasterforecaster",
        {
            "input": str(path),
            "output_model": str(tmp_path / "model"),
            "output_report": str(tmp_path / "r.html"),
            "device": "cpu",
            "config": {"lookback": 6, "horizon": 3, "epochs": 2, "hidden": 8, "seed": 1},
        },
    )
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["architecture"] == "convlstm" and config["grid"]["width"] == 16
    assert set(result.summary["test"]["rmse"]) == {
        "model",
        "network",
        "persistence",
        "climatology",
        "persisted_anomaly",
        "exponential_smoothing",
    }
    assert len(result.summary["test"]["skill"]) == 3
    assert "skill vs best baseline" in (tmp_path / "r.html").read_text()
    assert "Blend of the network with the baselines" in (tmp_path / "r.html").read_text()
    blend = config["blend"]
    assert blend["names"] == ["network", "persistence", "climatology", "persisted_anomaly"]
    assert blend["metric"] == "rmse" and (tmp_path / "model" / "baselines.npz").exists()
    state = torch.load(tmp_path / "model" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    forecast = run_command(
        "forecastraster",
        {
            "input": str(path),
            "model": str(tmp_path / "model"),
            "device": "cpu",
            "output": str(tmp_path / "f.tif"),
            "output_lower": str(tmp_path / "lo.tif"),
            "output_upper": str(tmp_path / "hi.tif"),
        },
    )
    with (
        rasterio.open(tmp_path / "f.tif") as f,
        rasterio.open(tmp_path / "lo.tif") as lo,
        rasterio.open(tmp_path / "hi.tif") as hi,
    ):
        assert f.count == 3 and f.descriptions[0] == "2019-03-11T00:00:00Z"
        values = f.read()
        assert np.isfinite(values).all() and 250 < values.mean() < 300  # kelvin
        assert (lo.read() <= hi.read()).all()
    assert forecast.summary["times"][-1] == "2019-03-11T02:00:00Z"


def test_cnnlstm_trains_too(tmp_path, small_stack):
    path, _ = small_stack
    result = run_command(
        "trainrasterforecaster",
        {
            "input": str(path),
            "output_model": str(tmp_path / "m"),
            "device": "cpu",
            "config": {"architecture": "cnnlstm", "lookback": 4, "horizon": 2, "epochs": 1, "hidden": 8},
        },
    )
    assert result.summary["epochs"] == 1 and np.isfinite(result.summary["test"]["rmse"]["model"]).all()


def test_same_seed_same_model(tmp_path, small_stack):
    path, _ = small_stack
    request = {
        "input": str(path),
        "device": "cpu",
        "config": {"lookback": 4, "horizon": 2, "epochs": 1, "hidden": 8, "seed": 3, "max_batches_per_epoch": 3},
    }
    a = run_command("trainrasterforecaster", dict(request, output_model=str(tmp_path / "a")))
    b = run_command("trainrasterforecaster", dict(request, output_model=str(tmp_path / "b")))
    assert a.summary["test"]["rmse"]["model"] == pytest.approx(b.summary["test"]["rmse"]["model"], rel=1e-5)


def test_model_refuses_another_grid(tmp_path, small_stack):
    path, stack = small_stack
    run_command(
        "trainrasterforecaster",
        {
            "input": str(path),
            "output_model": str(tmp_path / "m"),
            "device": "cpu",
            "config": {"lookback": 4, "horizon": 2, "epochs": 1, "hidden": 8, "max_batches_per_epoch": 2},
        },
    )
    other = RasterStack(stack.values[:, :10, :10], stack.times, GridSpec(10, 10, stack.grid.transform, stack.grid.crs))
    write_stack(other, tmp_path / "other.tif")
    with pytest.raises(UserInputError, match="size 10×10 px instead of 16×12 px"):
        run_command(
            "forecastraster",
            {
                "input": str(tmp_path / "other.tif"),
                "model": str(tmp_path / "m"),
                "device": "cpu",
                "output": str(tmp_path / "f.tif"),
            },
        )
    assert not (tmp_path / "f.tif").exists()
    run_command(
        "forecastraster",
        {
            "input": str(tmp_path / "other.tif"),
            "model": str(tmp_path / "m"),
            "device": "cpu",
            "output": str(tmp_path / "f.tif"),
            "resample": True,
        },
    )
    with rasterio.open(tmp_path / "f.tif") as src:
        assert (src.width, src.height) == (16, 12)
        assert np.isnan(src.read(1)[:, 10:]).all() and np.isfinite(src.read(1)[:10, :10]).all()


def test_corrupt_model_folder(tmp_path, small_stack):
    path, _ = small_stack
    (tmp_path / "m").mkdir()
    with pytest.raises(UserInputError, match="needs config.json and weights.pt"):
        run_command(
            "forecastraster", {"input": str(path), "model": str(tmp_path / "m"), "output": str(tmp_path / "f.tif")}
        )
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format": "st_analyzer.raster_forecaster", "version": 1}))
    (tmp_path / "m" / "weights.pt").write_bytes(b"not torch")
    with pytest.raises(UserInputError, match="not a forecaster model folder"):
        run_command(
            "forecastraster", {"input": str(path), "model": str(tmp_path / "m"), "output": str(tmp_path / "f.tif")}
        )


def test_forecast_reads_only_the_last_steps_and_equals_the_whole_stack(tmp_path, small_stack):
    """Cells whose data end before the lookback, a missing step inside it and a cell that never had data: the
    forecast from the stack's tail (+ each cell's last earlier value) equals the forecast from the whole stack."""
    from backend.forecast.raster.predict import forecast_from_folder
    from backend.forecast.raster.stacks import regular_stack

    _, stack = small_stack
    values = stack.values.copy()
    values[-9:, :3, :4] = np.nan  # data end before the 6-step lookback
    values[:, 5, 5] = np.nan  # never any data
    keep = np.ones(stack.times.size, bool)
    keep[-3] = False  # a missing step
    path = tmp_path / "holed.tif"
    write_stack(RasterStack(values[keep], stack.times[keep], stack.grid), path)
    run_command(
        "trainrasterforecaster",
        {
            "input": str(path),
            "output_model": str(tmp_path / "model"),
            "device": "cpu",
            "config": {"lookback": 6, "horizon": 2, "epochs": 1, "hidden": 4, "seed": 1},
        },
    )
    whole, step = regular_stack(str(path), Reporter())
    expected = forecast_from_folder(str(tmp_path / "model"), whole, step, "cpu", False, Reporter())
    run_command(
        "forecastraster",
        {"input": str(path), "model": str(tmp_path / "model"), "device": "cpu", "output": str(tmp_path / "f.tif")},
    )
    with rasterio.open(tmp_path / "f.tif") as f:
        got = f.read()
    np.testing.assert_allclose(got, expected.frames[0], rtol=1e-6, atol=1e-5)
    assert np.isfinite(got[:, :3, :4]).all() and np.isnan(got[:, 5, 5]).all()


def test_too_short_stack_and_missing_cuda(tmp_path, small_stack):
    _, stack = small_stack
    short = RasterStack(stack.values[:20], stack.times[:20], stack.grid)
    write_stack(short, tmp_path / "short.tif")
    with pytest.raises(UserInputError, match="too short for lookback 12"):
        run_command(
            "trainrasterforecaster",
            {"input": str(tmp_path / "short.tif"), "output_model": str(tmp_path / "m"), "device": "cpu"},
        )
    if not torch.cuda.is_available():
        with pytest.raises(UserInputError, match="CUDA was requested but no GPU"):
            run_command(
                "trainrasterforecaster",
                {"input": str(tmp_path / "short.tif"), "output_model": str(tmp_path / "m"), "device": "cuda"},
            )
    assert not (tmp_path / "m").exists()


def test_irregular_stack_is_refused(tmp_path, small_stack):
    _, stack = small_stack
    times = stack.times[:30].copy()
    times[10:] += np.timedelta64(30, "m")
    write_stack(RasterStack(stack.values[:30], times, stack.grid), tmp_path / "irr.tif")
    with pytest.raises(UserInputError, match="irregular"):
        run_command("baselineforecast", {"input": str(tmp_path / "irr.tif"), "output": str(tmp_path / "b.tif")})


@pytest.mark.parametrize("method", ["persistence", "climatology", "persisted_anomaly", "exponential_smoothing"])
def test_baseline_forecast_command(tmp_path, small_stack, method):
    path, stack = small_stack
    result = run_command(
        "baselineforecast", {"input": str(path), "output": str(tmp_path / "b.tif"), "method": method, "horizon": 4}
    )
    with rasterio.open(tmp_path / "b.tif") as src:
        assert src.count == 4 and src.descriptions[0] == "2019-03-11T00:00:00Z"
        if method == "persistence":
            np.testing.assert_array_equal(src.read(4), stack.values[-1])
    assert result.summary["times"][0] == "2019-03-11T00:00:00Z"


@pytest.mark.parametrize("architecture", ["convlstm", "cnnlstm"])
def test_tiled_prediction_equals_whole_frame(small_stack, architecture):
    from backend.forecast.raster.architectures import build_raster_model
    from backend.forecast.raster.training import predict_windows, prepare
    from backend.forecast.windows import Normalisation

    _, stack = small_stack
    torch.manual_seed(0)
    network = build_raster_model(architecture, horizon=2, hidden=4)
    p = prepare(stack.values, stack.times, TimeStep(seconds=3600), Normalisation.fit(stack.values[:100]))
    origins = np.array([50, 120])
    whole = predict_windows(network, p, origins, 3, 2, "cpu", tile=256)
    tiled = predict_windows(network, p, origins, 3, 2, "cpu", tile=5)
    for a, b in zip(whole, tiled):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_training_reports_progress_within_epochs_and_warns_before_a_long_cpu_run(monkeypatch):
    from backend.forecast import loop
    from tests.collect import CollectingReporter

    class Steps(CollectingReporter):
        def __init__(self):
            super().__init__()
            self.steps = []

        def progress(self, percent, message=""):
            self.steps.append((percent, message))

    ticks = iter(range(0, 10_000, 30))  # every clock reading 30 s later: 40 batches × 3 epochs look like an hour
    monkeypatch.setattr(loop.time, "perf_counter", lambda: float(next(ticks)))
    reporter = Steps()
    clock = loop.TrainingClock(loop.LoopSettings(3, 1e-3, 2, 0, batches_per_epoch=40), "cpu", reporter)
    for batch in range(5):
        clock.batch_done(0, batch)
    assert any("epoch 1/3, batch 3/40; about" in m and "min left" in m for _, m in reporter.steps)
    assert 0 < reporter.steps[-1][0] < 5
    assert len(reporter.warnings) == 1 and "on the CPU" in reporter.warnings[0]
    assert "BATCHES_PER_EPOCH" in reporter.warnings[0] and "DEVICE cuda" in reporter.warnings[0]
