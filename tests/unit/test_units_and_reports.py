"""Units of values (band units, UNITS) and readable reports: numbers, distances, gaps and axis labels."""

import numpy as np
import pytest
import rasterio

from backend.commands import run_command
from backend.data.raster_io import read_stack
from backend.data.units import axis_label, per_year_units, readable_length, readable_number, squared_units
from backend.kriging.st_models import SpaceTimeModel
from backend.report.html import new_figure, plot_series
from tests.collect import CollectingReporter
from tests.paths import ERA5_DAILY


@pytest.mark.parametrize(
    "value, text",
    [
        (123456.7, "123,457"),
        (12.3456, "12.35"),
        (0.0, "0"),
        (0.00012, "0.00012"),
        (-45000.0, "-45,000"),
        (float("nan"), "n/a"),
    ],
)
def test_numbers_are_written_without_scientific_notation(value, text):
    assert readable_number(value) == text


def test_lengths_in_metres_become_kilometres_and_other_units_stay():
    assert readable_length(850.0) == "850 m"
    assert readable_length(123456.0) == "123.5 km"
    assert readable_length(3.0, "day") == "3 day"


def test_unit_texts():
    assert squared_units("K") == "K²" and squared_units("µg/m³") == "(µg/m³)²" and squared_units(None) is None
    assert per_year_units("mm") == "mm/year" and per_year_units("m/s") == "(m/s)/year"
    assert axis_label("value", "K") == "value (K)" and axis_label("value", None) == "value"
    assert axis_label("semivariance", "(µg/m³)²") == "semivariance (µg/m³)²"


def test_model_description_gives_ranges_in_km():
    model = SpaceTimeModel.from_dict(
        {
            "stModel": "separable",
            "sill": 120.0,
            "space": {"model": "Exp", "psill": 1.0, "range": 150000.0},
            "time": {"model": "Exp", "psill": 1.0, "range": 2.5},
        }
    )
    text = model.describe()
    assert "range=150 km" in text and "range=2.5 day" in text and "e+" not in text


def test_series_lines_break_across_gaps_and_not_elsewhere():
    times = np.concatenate(
        [np.arange("2020-01", "2020-07", dtype="datetime64[M]"), np.arange("2020-10", "2021-01", dtype="datetime64[M]")]
    ).astype("datetime64[s]")
    _fig, ax = new_figure()
    (line,) = plot_series(ax, times, np.arange(times.size, dtype=float))
    drawn = np.asarray(line.get_ydata(), dtype=float)
    assert drawn.size == times.size + 1 and np.isnan(drawn).sum() == 1  # one break: July–September missing
    assert np.flatnonzero(np.isnan(drawn))[0] == 6


def test_stack_keeps_the_inputs_band_unit_or_the_one_asked_for(tmp_path):
    files = sorted(ERA5_DAILY.glob("t2m_*.tif"))[:3]
    for source in files:  # copies whose bands say kelvin
        target = tmp_path / source.name
        with rasterio.open(source) as src:
            profile, values = src.profile, src.read()
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(values)
            dst.set_band_unit(1, "K")
    result = run_command(
        "buildrasterstack", {"output": str(tmp_path / "stack.tif"), "folder": str(tmp_path), "file_filter": "t2m_*.tif"}
    )
    assert result.summary["units"] == "K" and read_stack(tmp_path / "stack.tif").units == "K"
    result = run_command(
        "buildrasterstack",
        {
            "output": str(tmp_path / "celsius.tif"),
            "folder": str(tmp_path),
            "file_filter": "t2m_*.tif",
            "units": "kelvin",
        },
    )
    with rasterio.open(tmp_path / "celsius.tif") as src:
        assert set(src.units) == {"kelvin"}


def test_inputs_without_units_give_a_stack_without_units(tmp_path):
    result = run_command(
        "buildrasterstack",
        {"output": str(tmp_path / "stack.tif"), "folder": str(ERA5_DAILY), "file_filter": "t2m_2019030[1-3].tif"},
    )
    assert result.summary["units"] is None and read_stack(tmp_path / "stack.tif").units is None


def test_reports_label_axes_with_units(tmp_path, monkeypatch):
    from tests.paths import PM10_Q1

    labels = []
    original = plot_series

    def spy(ax, times, values, **style):
        labels.append(ax)
        return original(ax, times, values, **style)

    monkeypatch.setattr("backend.commands.detect_anomalies.plot_series", spy)
    run_command(
        "detectpointanomalies",
        {
            "points": {
                "path": str(PM10_Q1),
                "id_field": "station_id",
                "time_field": "date",
                "value_field": "pm10",
                "units": "µg/m³",
            },
            "output": str(tmp_path / "a.gpkg"),
            "output_report": str(tmp_path / "a.html"),
            "detection": {"method": "rolling_median", "window": "7D"},
        },
        CollectingReporter(),
    )
    assert labels and {ax.get_ylabel() for ax in labels} == {"value (µg/m³)"}
    assert {ax.get_xlabel() for ax in labels} == {"time (UTC)"}
