import numpy as np
import pytest
import rasterio

from backend.data.raster_io import band_times_from_metadata, inspect_raster, read_stack, write_stack
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_parsing import format_time
from backend.errors import UserInputError
from tests.paths import shared


def small_stack(t=4, h=3, w=5):
    values = np.arange(t * h * w, dtype=np.float32).reshape(t, h, w)
    values[1, 0, 0] = np.nan
    times = np.datetime64("2019-03-01T00:00:00") + np.arange(t) * np.timedelta64(6, "h")
    grid = GridSpec(
        w, h, rasterio.Affine(1000, 0, 500000, 0, -1000, 5800000), rasterio.crs.CRS.from_epsg(32632).to_wkt()
    )
    return RasterStack(values, times, grid)


def test_write_then_read_round_trip_keeps_values_nan_and_times(tmp_path):
    stack = small_stack()
    path = write_stack(stack, tmp_path / "stack.tif")
    back = read_stack(path)
    np.testing.assert_array_equal(back.values, stack.values)  # NaN positions compare equal
    assert back.times.tolist() == stack.times.tolist()
    assert back.grid.same_as(stack.grid)
    with rasterio.open(path) as src:
        assert src.descriptions[0] == "2019-03-01T00:00:00Z"
        assert src.tags(2)["time"] == "2019-03-01T06:00:00Z"
        assert src.tags()["ST_TIMES"].split(",")[-1] == "2019-03-01T18:00:00Z"
    assert list(tmp_path.iterdir()) == [path], "no temporary or sidecar file may be left"


def test_stack_validates_shapes_and_order():
    stack = small_stack()
    with pytest.raises(UserInputError, match="4 bands but 3 times"):
        RasterStack(stack.values, stack.times[:3], stack.grid)
    with pytest.raises(UserInputError, match="Duplicate timestamp"):
        RasterStack(stack.values, stack.times[[0, 1, 1, 2]], stack.grid)


def test_read_stack_without_times_says_how_to_fix(write_raster):
    path = write_raster("plain.tif", np.ones((2, 3, 3)))
    with pytest.raises(UserInputError, match="buildrasterstack"):
        read_stack(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        inspect_raster(tmp_path / "nope.tif")


def test_times_from_iso_band_descriptions(write_raster):
    path = write_raster("d.tif", np.ones((2, 2, 2)), description=["2010-08-26T00:00:00Z", "2010-08-26T00:05:00Z"])
    with rasterio.open(path) as src:
        assert [format_time(t) for t in band_times_from_metadata(src)] == [
            "2010-08-26T00:00:00Z",
            "2010-08-26T00:05:00Z",
        ]


def test_times_from_tiff_datetime_tag(write_raster):
    path = write_raster("s.tif", np.ones((2, 2)), TIFFTAG_DATETIME="2019:03:05 12:00:00")
    with rasterio.open(path) as src:
        assert format_time(band_times_from_metadata(src)[0]) == "2019-03-05T12:00:00Z"


def test_times_from_netcdf_time_dimension(tmp_path):
    netcdf4 = pytest.importorskip("netCDF4")
    path = tmp_path / "t.nc"
    with netcdf4.Dataset(path, "w") as ds:
        ds.createDimension("time", 3), ds.createDimension("lat", 2), ds.createDimension("lon", 2)
        time = ds.createVariable("time", "f8", ("time",))
        time.units, time.calendar = "hours since 1900-01-01 00:00:00.0", "gregorian"
        time[:] = [1043376.0, 1043377.0, 1043400.0]
        lat, lon = ds.createVariable("lat", "f4", ("lat",)), ds.createVariable("lon", "f4", ("lon",))
        lat[:], lon[:] = [51.0, 50.0], [0.0, 1.0]
        lat.units, lon.units = "degrees_north", "degrees_east"
        t2m = ds.createVariable("t2m", "f4", ("time", "lat", "lon"))
        t2m[:] = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    stack = read_stack(path)
    assert [format_time(t) for t in stack.times] == [
        "2019-01-11T00:00:00Z",
        "2019-01-11T01:00:00Z",
        "2019-01-12T00:00:00Z",
    ]
    assert stack.values.shape == (3, 2, 2)


def test_reads_band_times_of_the_shared_era5_stack():
    path = shared("era5_t2m_uk_2019_03/era5_t2m_uk_2019_03_hourly.tif")
    info = inspect_raster(path)
    listed = np.loadtxt(path.parent / "times.csv", delimiter=",", skiprows=1, dtype=str, usecols=1)
    assert info.band_count == 744 and (info.grid.width, info.grid.height) == (49, 33)
    assert [format_time(t) for t in info.band_times] == list(listed)
