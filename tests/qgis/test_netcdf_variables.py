"""A NetCDF file with several variables through `qgis_process`: VARIABLE on buildrasterstack and raster inputs."""

import pytest
import rasterio

from tests.netcdf_data import write_two_variable_netcdf

pytestmark = pytest.mark.qgis_process


def test_variable_of_a_netcdf_file_as_stack_and_as_input(qgis_process, tmp_path):
    path = write_two_variable_netcdf(tmp_path / "two.nc", steps=14, months=True)
    built = qgis_process(
        "run",
        "stanalyzer:buildrasterstack",
        "--",
        f"INPUT_LAYERS={path}",
        "VARIABLE=tp",
        f"OUTPUT={tmp_path / 'tp.tif'}",
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    with rasterio.open(tmp_path / "tp.tif") as src:
        assert src.count == 14 and src.descriptions[0] == "2019-01-01T00:00:00Z"
        assert src.descriptions[-1] == "2020-02-01T00:00:00Z"
    done = qgis_process(
        "run", "stanalyzer:timeseriesdiagnostics", "--", f"INPUT={path}", "VARIABLE=t2m", f"OUTPUT={tmp_path / 'd.tif'}"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Time step 1 month" in done.stdout
    missing = qgis_process(
        "run", "stanalyzer:timeseriesdiagnostics", "--", f"INPUT={path}", f"OUTPUT={tmp_path / 'e.tif'}"
    )
    assert missing.returncode != 0 and "VARIABLE=t2m" in missing.stdout + missing.stderr
