import os
import shutil

import numpy as np
import pytest
import rasterio
from affine import Affine

from backend.commands import run_command
from backend.data.raster_io import read_stack
from backend.data.time_parsing import format_time
from backend.errors import UserInputError
from tests.paths import ERA5_DAILY


def build(**request):
    return run_command("buildrasterstack", request)


def test_folder_with_filename_pattern_gives_27_daily_bands_in_order(tmp_path, era5_daily_files):
    out = tmp_path / "stack.tif"
    result = build(output=str(out), folder=str(ERA5_DAILY), file_filter="t2m_*.tif", filename_pattern="%Y%m%d")
    stack = read_stack(out)
    assert stack.values.shape == (27, 33, 49)
    assert format_time(stack.times[0]) == "2019-03-01T00:00:00Z"
    assert format_time(stack.times[-1]) == "2019-03-27T00:00:00Z"
    with rasterio.open(era5_daily_files[9]) as src:  # t2m_20190310.tif
        np.testing.assert_array_equal(stack.values[9], src.read(1))
    summary = result.summary["time_axis"]
    assert summary["regular"] and summary["step"] == "1 day" and result.summary["bands"] == 27
    assert 265 < result.summary["value_min"] < result.summary["value_max"] < 292  # kelvin


def test_inputs_are_sorted_by_time_not_by_given_order(tmp_path, era5_daily_files):
    shuffled = [str(era5_daily_files[i]) for i in (5, 0, 3)]
    build(output=str(tmp_path / "s.tif"), inputs=shuffled)
    assert [format_time(t)[:10] for t in read_stack(tmp_path / "s.tif").times] == [
        "2019-03-01",
        "2019-03-04",
        "2019-03-06",
    ]


def test_gaps_are_reported_not_refused(tmp_path, era5_daily_files):
    result = build(
        output=str(tmp_path / "g.tif"), inputs=[str(f) for f in era5_daily_files[:3] + era5_daily_files[6:8]]
    )
    assert result.summary["time_axis"]["missing_steps"] == 3 and not result.summary["time_axis"]["regular"]


def test_time_list_gives_one_time_per_band(tmp_path, era5_daily_files):
    result = build(
        output=str(tmp_path / "l.tif"),
        inputs=[str(f) for f in era5_daily_files[:2]],
        time_source="list",
        times=["2020-01-02T06:00:00Z", "2020-01-01T06:00:00Z"],
    )
    stack = read_stack(tmp_path / "l.tif")
    assert result.summary["times"] == ["2020-01-01T06:00:00Z", "2020-01-02T06:00:00Z"]
    with rasterio.open(era5_daily_files[1]) as src:  # listed first in time
        np.testing.assert_array_equal(stack.values[0], src.read(1))


def test_time_list_length_must_match_band_count(tmp_path, era5_daily_files):
    with pytest.raises(UserInputError, match="1 entries but the inputs have 2 bands"):
        build(
            output=str(tmp_path / "x.tif"),
            inputs=[str(f) for f in era5_daily_files[:2]],
            time_source="list",
            times=["2020-01-01"],
        )


def test_band_metadata_times_from_multiband_inputs(tmp_path, write_raster):
    a = write_raster("a.tif", np.ones((2, 4, 4)), description=["2010-08-26T00:05:00Z", "2010-08-26T00:10:00Z"])
    b = write_raster("b.tif", np.zeros((1, 4, 4)), description=["2010-08-26T00:00:00Z"])
    result = build(output=str(tmp_path / "m.tif"), inputs=[str(a), str(b)], time_source="metadata")
    assert result.summary["times"][0] == "2010-08-26T00:00:00Z" and result.summary["time_axis"]["regular"]
    assert read_stack(tmp_path / "m.tif").values[:, 0, 0].tolist() == [0.0, 1.0, 1.0]


def test_metadata_time_source_names_a_file_without_times(tmp_path, write_raster):
    plain = write_raster("plain_20190301.tif", np.ones((4, 4)))
    with pytest.raises(UserInputError, match="plain_20190301.tif has no time in its band metadata"):
        build(output=str(tmp_path / "x.tif"), inputs=[str(plain)], time_source="metadata")


def test_duplicate_timestamps_name_both_files(tmp_path, era5_daily_files):
    copy = tmp_path / "copy_20190301.tif"
    shutil.copy(era5_daily_files[0], copy)
    with pytest.raises(
        UserInputError,
        match=r"Duplicate timestamp 2019-03-01T00:00:00Z \(.*t2m_20190301.tif.*copy_20190301.tif"
        r"|copy_20190301.tif.*t2m_20190301.tif",
    ):
        build(output=str(tmp_path / "x.tif"), inputs=[str(era5_daily_files[0]), str(copy)])
    assert not (tmp_path / "x.tif").exists()


def test_mismatched_grid_names_the_file_and_leaves_nothing(tmp_path, era5_daily_files, write_raster):
    other = write_raster("t2m_20190305.tif", np.ones((10, 10)))
    out = tmp_path / "out" / "x.tif"
    with pytest.raises(UserInputError, match=r"t2m_20190305.tif has size 10×10 px instead of 49×33 px"):
        build(output=str(out), inputs=[str(era5_daily_files[0]), str(other)])
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_mismatched_crs_is_refused(tmp_path, era5_daily_files):
    with rasterio.open(era5_daily_files[1]) as src:
        profile, data = src.profile, src.read()
    other = tmp_path / "t2m_20190302.tif"
    with rasterio.open(other, "w", **dict(profile, crs="EPSG:3857")) as dst:
        dst.write(data)
    with pytest.raises(UserInputError, match="a different CRS"):
        build(output=str(tmp_path / "x.tif"), inputs=[str(era5_daily_files[0]), str(other)])


def test_resample_onto_first_grid(tmp_path, era5_daily_files, write_raster):
    coarse = write_raster(
        "t2m_20190305.tif", np.full((17, 25), 280.0), transform=Affine(0.5, 0, -10.125, 0, -0.5, 58.125)
    )
    build(
        output=str(tmp_path / "r.tif"),
        inputs=[str(era5_daily_files[0]), str(coarse)],
        resample=True,
        resampling="nearest",
    )
    stack = read_stack(tmp_path / "r.tif")
    assert stack.values.shape == (2, 33, 49)
    assert np.nanmax(np.abs(stack.values[1, :32, :48] - 280.0)) == 0


def test_all_nodata_inputs_are_refused(tmp_path, write_raster):
    a = write_raster("x_20190301.tif", np.full((4, 4), -9999.0), nodata=-9999.0)
    with pytest.raises(UserInputError, match="entirely no data"):
        build(output=str(tmp_path / "x.tif"), inputs=[str(a)])
    assert sorted(os.listdir(tmp_path)) == ["x_20190301.tif"]


def test_unwritable_output_folder(tmp_path, era5_daily_files):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(UserInputError, match="not writable"):
            build(output=str(locked / "x.tif"), inputs=[str(era5_daily_files[0])])
    finally:
        locked.chmod(0o700)


def test_output_path_that_is_a_folder(tmp_path, era5_daily_files):
    with pytest.raises(UserInputError, match="is a folder; give a file name"):
        build(output=str(tmp_path), inputs=[str(era5_daily_files[0])])


def test_empty_folder_and_no_inputs(tmp_path):
    with pytest.raises(UserInputError, match="No file in"):
        build(output=str(tmp_path / "x.tif"), folder=str(tmp_path))
    with pytest.raises(UserInputError, match="Give input rasters"):
        build(output=str(tmp_path / "x.tif"))


def test_unknown_request_field_is_reported():
    with pytest.raises(UserInputError, match="Unknown request field.*colour"):
        build(output="x.tif", colour="red")


def test_output_below_a_file_cannot_be_created(tmp_path, era5_daily_files):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(UserInputError, match="Cannot create the output folder"):
        build(output=str(blocker / "x.tif"), inputs=[str(era5_daily_files[0])])
