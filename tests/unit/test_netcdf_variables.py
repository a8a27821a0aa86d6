"""NetCDF files with several variables as time sources: VARIABLE chooses one, band times come from the file."""

import numpy as np
import pytest
import rasterio

from backend.commands import run_command
from backend.data.gdal_names import file_of, subdataset_name, variable_of
from backend.data.raster_io import read_stack
from backend.errors import UserInputError
from tests.netcdf_data import write_two_variable_netcdf


@pytest.fixture
def two_variables(tmp_path):
    return write_two_variable_netcdf(tmp_path / "era5_like.nc")


def test_gdal_names_round_trip(tmp_path):
    name = subdataset_name(tmp_path / "a.nc", "t2m")
    assert name == f'NETCDF:"{tmp_path / "a.nc"}":t2m'
    assert file_of(name) == str(tmp_path / "a.nc") and variable_of(name) == "t2m" and variable_of("x.tif") is None
    with pytest.raises(UserInputError, match="NetCDF or HDF5"):
        subdataset_name(tmp_path / "a.tif", "t2m")


def test_a_file_with_several_variables_names_them(two_variables, tmp_path):
    with pytest.raises(UserInputError, match=r"several variables \(t2m, tp\).*VARIABLE=t2m"):
        run_command("describespacetime", {"raster": str(two_variables), "output_html": str(tmp_path / "r.html")})


def test_buildrasterstack_takes_a_variable_and_its_times(two_variables, tmp_path):
    result = run_command(
        "buildrasterstack", {"inputs": [str(two_variables)], "variable": "tp", "output": str(tmp_path / "tp.tif")}
    )
    assert result.summary["time_axis"]["count"] == 6 and result.summary["time_axis"]["step"] == "1 day"
    stack = read_stack(tmp_path / "tp.tif")
    assert str(stack.times[0]) == "2019-03-01T00:00:00"
    with rasterio.open(f'NETCDF:"{two_variables}":tp') as src:
        np.testing.assert_array_equal(stack.values[2], src.read(3))


def test_every_raster_input_reads_a_variable_directly(two_variables, tmp_path):
    name = subdataset_name(two_variables, "t2m")
    run_command("describespacetime", {"raster": name, "output_html": str(tmp_path / "r.html")})
    run_command("detectrasteranomalies", {"input": name, "output_scores": str(tmp_path / "s.tif")})
    run_command("baselineforecast", {"input": name, "output": str(tmp_path / "b.tif"), "horizon": 2})
    result = run_command("timeseriesdiagnostics", {"source": {"raster": name}, "output": str(tmp_path / "d.tif")})
    assert result.summary["locations"] == 24


def test_monthly_netcdf_gets_calendar_month_times(tmp_path):
    path = write_two_variable_netcdf(tmp_path / "monthly.nc", steps=14, months=True)
    result = run_command(
        "buildrasterstack", {"inputs": [str(path)], "variable": "t2m", "output": str(tmp_path / "m.tif")}
    )
    axis = result.summary["time_axis"]
    assert axis["step"] == "1 month" and axis["regular"] and axis["end"] == "2020-02-01T00:00:00Z"
    forecast = run_command(
        "baselineforecast",
        {"input": str(tmp_path / "m.tif"), "output": str(tmp_path / "f.tif"), "horizon": 3, "method": "climatology"},
    )
    assert forecast.summary["times"] == ["2020-03-01T00:00:00Z", "2020-04-01T00:00:00Z", "2020-05-01T00:00:00Z"]
    assert forecast.summary["step_months"] == 1


def test_a_variable_read_in_chunks_equals_read_block(two_variables):
    """The chunked reader (rioxarray: the first dimension is "time" for a NetCDF variable) gives read_block's
    values."""
    from backend.data.lazy_stack import open_lazy_stack
    from backend.data.raster_io import open_raster, read_block

    name = subdataset_name(two_variables, "t2m")
    stack = open_lazy_stack(name, 8)
    with open_raster(name) as src:
        for index, window in enumerate(stack.windows()):
            np.testing.assert_array_equal(stack.chunk(index).compute(scheduler="sync"), read_block(src, window))
