"""The forecasting algorithms through processing.run and a real qgis_process run."""

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException

pytest.importorskip("torch")


def test_train_then_forecast(run_alg, tmp_path, small_stack):
    trained = run_alg(
        "stanalyzer:trainrasterforecaster",
        {
            "INPUT": small_stack,
            "LOOKBACK": 4,
            "HORIZON": 2,
            "EPOCHS": 1,
            "DEVICE": 1,
            "OUTPUT_MODEL": str(tmp_path / "model"),
            "OUTPUT_REPORT": str(tmp_path / "r.html"),
        },
    )
    assert (tmp_path / "model" / "weights.pt").exists() and (tmp_path / "r.html").exists()
    result = run_alg(
        "stanalyzer:forecastraster",
        {
            "INPUT": small_stack,
            "MODEL": trained["OUTPUT_MODEL"],
            "OUTPUT": str(tmp_path / "f.tif"),
            "OUTPUT_UPPER": str(tmp_path / "hi.tif"),
        },
    )
    with rasterio.open(result["OUTPUT"]) as f, rasterio.open(result["OUTPUT_UPPER"]) as hi:
        assert f.count == 2 and f.descriptions == ("2019-03-09T08:00:00Z", "2019-03-09T09:00:00Z")
        assert (hi.read() >= f.read() - 1e-3).all()


def test_baseline_forecast(run_alg, tmp_path, small_stack):
    result = run_alg(
        "stanalyzer:baselineforecast",
        {"INPUT": small_stack, "METHOD": 0, "HORIZON": 3, "OUTPUT": str(tmp_path / "b.tif")},
    )
    with rasterio.open(result["OUTPUT"]) as src, rasterio.open(small_stack) as stack:
        np.testing.assert_array_equal(src.read(3), stack.read(stack.count))


def test_missing_model_folder_is_a_clear_error(run_alg, tmp_path, small_stack):
    (tmp_path / "empty").mkdir()
    with pytest.raises(QgsProcessingException, match="needs config.json and weights.pt"):
        run_alg(
            "stanalyzer:forecastraster",
            {"INPUT": small_stack, "MODEL": str(tmp_path / "empty"), "OUTPUT": str(tmp_path / "f.tif")},
        )


@pytest.mark.qgis_process
def test_baselineforecast_with_qgis_process(qgis_process, tmp_path, small_stack):
    done = qgis_process(
        "run",
        "stanalyzer:baselineforecast",
        "--",
        f"INPUT={small_stack}",
        "METHOD=2",
        "HORIZON=5",
        f"OUTPUT={tmp_path / 'b.tif'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "b.tif") as src:
        assert src.count == 5 and src.descriptions[-1] == "2019-03-09T12:00:00Z"
