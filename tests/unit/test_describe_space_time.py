import numpy as np
import pandas as pd
import pytest
import rasterio

from backend.commands import run_command
from backend.data.raster_io import write_stack
from backend.data.raster_stack import GridSpec, RasterStack
from backend.errors import UserInputError
from tests.paths import ERA5_DAILY, PM10_Q1

PM10_INPUT = {"path": str(PM10_Q1), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}


@pytest.fixture
def era5_stack(tmp_path):
    path = tmp_path / "stack.tif"
    run_command("buildrasterstack", {"output": str(path), "folder": str(ERA5_DAILY)})
    return path


def test_raster_summary_matches_numpy(tmp_path, era5_stack):
    result = run_command(
        "describespacetime",
        {
            "raster": str(era5_stack),
            "output_html": str(tmp_path / "r.html"),
            "output_table": str(tmp_path / "r.csv"),
            "output_missing": str(tmp_path / "m.tif"),
        },
    )
    with rasterio.open(era5_stack) as src:
        values = src.read()
    table = pd.read_csv(tmp_path / "r.csv")
    assert len(table) == 27 and table["time"].iloc[0] == "2019-03-01T00:00:00Z"
    np.testing.assert_allclose(table["mean"], values.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(table["max"], values.max(axis=(1, 2)))
    assert result.summary["missing_share"] == 0 and result.summary["cells_never_missing"] == 49 * 33
    assert result.summary["mean"] == pytest.approx(float(values.astype(np.float64).mean()), rel=1e-9)
    html = (tmp_path / "r.html").read_text()
    assert "1 day" in html and "data:image/png;base64" in html
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.count == 1 and float(src.read(1).max()) == 0.0


def test_raster_missing_share_per_cell_and_gaps(tmp_path):
    values = np.ones((4, 2, 3), dtype=np.float32)
    values[:, 0, 0] = np.nan  # a cell never observed
    values[1:3, 1, 2] = np.nan  # a cell missing half the time
    times = np.array(["2020-01-01", "2020-01-02", "2020-01-05", "2020-01-06"], dtype="datetime64[s]")
    grid = GridSpec(3, 2, rasterio.Affine(1, 0, 0, 0, -1, 2), "EPSG:32632")
    path = write_stack(RasterStack(values, times, grid), tmp_path / "s.tif")
    result = run_command(
        "describespacetime",
        {"raster": str(path), "output_html": str(tmp_path / "r.html"), "output_missing": str(tmp_path / "m.tif")},
    )
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_allclose(src.read(1), [[1.0, 0, 0], [0, 0, 0.5]])
    assert result.summary["time_axis"]["missing_steps"] == 2
    assert result.summary["cells_always_missing"] == 1
    assert result.summary["missing_share"] == pytest.approx(6 / 24)


def test_all_nan_stack_is_refused(tmp_path):
    grid = GridSpec(2, 2, rasterio.Affine(1, 0, 0, 0, -1, 2), "EPSG:32632")
    stack = RasterStack(np.full((2, 2, 2), np.nan), np.array(["2020-01-01", "2020-01-02"], "datetime64[s]"), grid)
    path = write_stack(stack, tmp_path / "nan.tif")
    with pytest.raises(UserInputError, match="no valid value"):
        run_command("describespacetime", {"raster": str(path), "output_html": str(tmp_path / "r.html")})
    assert not (tmp_path / "r.html").exists()


def test_point_summary_per_station(tmp_path):
    result = run_command(
        "describespacetime",
        {"points": PM10_INPUT, "output_html": str(tmp_path / "p.html"), "output_table": str(tmp_path / "p.gpkg")},
    )
    import geopandas as gpd

    stations = gpd.read_file(tmp_path / "p.gpkg")
    assert len(stations) == 68 and stations.crs.to_epsg() == 32632
    assert int(stations["n_obs"].sum()) == 5840 == result.summary["observations"]
    assert result.summary["missing_share"] == pytest.approx(1 - 5840 / (68 * 90))
    complete = stations[stations["missing_share"] == 0]
    assert (complete["longest_gap_steps"] == 0).all() and len(complete) > 0


def test_exactly_one_input_is_required(tmp_path):
    with pytest.raises(UserInputError, match="either a raster stack or a point layer"):
        run_command("describespacetime", {"output_html": str(tmp_path / "x.html")})


def test_missing_raster_output_only_for_rasters(tmp_path):
    with pytest.raises(UserInputError, match="only made for raster"):
        run_command(
            "describespacetime",
            {"points": PM10_INPUT, "output_html": str(tmp_path / "x.html"), "output_missing": str(tmp_path / "m.tif")},
        )
