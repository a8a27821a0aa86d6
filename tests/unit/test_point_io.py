import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from backend.data.point_io import PointLayerRef, read_long_points, read_wide_points
from backend.data.point_panel import to_metric
from backend.data.time_parsing import format_time
from backend.errors import UserInputError
from tests.paths import PM10_Q1, shared


def pm10_panel():
    return read_long_points(PointLayerRef(str(PM10_Q1)), "station_id", "date", "pm10")


def test_long_layer_becomes_station_by_time_panel():
    panel = pm10_panel()
    assert panel.values.shape == (68, 90)
    assert format_time(panel.times[0]) == "2005-01-01T00:00:00Z" and panel.time_summary().regular
    assert int(np.isfinite(panel.values).sum()) == 5840
    frame = gpd.read_file(PM10_Q1)
    row = frame.iloc[100]
    i = int(np.flatnonzero(panel.ids == row["station_id"])[0])
    j = int(np.flatnonzero(panel.times == np.datetime64(pd.Timestamp(row["date"]).to_datetime64(), "s"))[0])
    assert panel.values[i, j] == pytest.approx(row["pm10"], rel=1e-6)
    assert panel.xy[i] == pytest.approx([row.geometry.x, row.geometry.y])
    assert "32632" in panel.crs or "UTM zone 32N" in panel.crs


def test_panel_matches_the_shared_csv_for_q1():
    obs = pd.read_csv(shared("de_pm10_2005/observations.csv"))
    obs = obs[obs["date"] < "2005-04-01"]
    panel = pm10_panel()
    assert panel.n_stations == obs["station_id"].nunique()
    expected = obs.groupby("station_id")["pm10"].mean()
    got = pd.Series(np.nanmean(panel.values, axis=1), index=panel.ids)
    np.testing.assert_allclose(got[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-5)


def write_layer(tmp_path, frame, name="layer.gpkg"):
    path = tmp_path / name
    frame.to_file(path, driver="GPKG")
    return PointLayerRef(str(path))


def long_frame(rows):
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["sid", "t", "v"]),
        geometry=[Point(i, i) for i in range(len(rows))],
        crs="EPSG:32632",
    )


def test_duplicate_station_time_is_refused(tmp_path):
    ref = write_layer(tmp_path, long_frame([["a", "2020-01-01", 1.0], ["a", "2020-01-01", 2.0]]))
    with pytest.raises(UserInputError, match="repeat a station-time, e.g. station a at 2020-01-01"):
        read_long_points(ref, "sid", "t", "v")


def test_unknown_field_lists_the_available_ones(tmp_path):
    ref = write_layer(tmp_path, long_frame([["a", "2020-01-01", 1.0]]))
    with pytest.raises(UserInputError, match="Unknown field 'value'; the layer has: sid, t, v"):
        read_long_points(ref, "sid", "t", "value")


def test_unparseable_time_is_quoted(tmp_path):
    ref = write_layer(tmp_path, long_frame([["a", "2020-01-01", 1.0], ["a", "31/02/2020", 2.0]]))
    with pytest.raises(UserInputError, match="'31/02/2020'"):
        read_long_points(ref, "sid", "t", "v")


def test_non_numeric_values_are_refused(tmp_path):
    ref = write_layer(tmp_path, long_frame([["a", "2020-01-01", "high"]]))
    with pytest.raises(UserInputError, match="non-numeric values, e.g. 'high'"):
        read_long_points(ref, "sid", "t", "v")


def test_empty_layer_is_refused(tmp_path):
    empty = gpd.GeoDataFrame(
        {"sid": pd.Series([], dtype=str), "t": pd.Series([], dtype=str), "v": pd.Series([], dtype=float)},
        geometry=[],
        crs="EPSG:32632",
    )
    ref = write_layer(tmp_path, empty)
    with pytest.raises(UserInputError, match="has no features"):
        read_long_points(ref, "sid", "t", "v")


def test_line_layer_is_refused(tmp_path):
    frame = gpd.GeoDataFrame(
        {"sid": ["a"], "t": ["2020-01-01"], "v": [1.0]}, geometry=[LineString([(0, 0), (1, 1)])], crs="EPSG:32632"
    )
    with pytest.raises(UserInputError, match="use a point layer"):
        read_long_points(write_layer(tmp_path, frame), "sid", "t", "v")


def test_wide_layer_with_field_time_pattern(tmp_path):
    frame = gpd.GeoDataFrame(
        {"sid": ["a", "b"], "pm20200102": [2.0, np.nan], "pm20200101": [1.0, 3.0]},
        geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:32632",
    )
    panel = read_wide_points(write_layer(tmp_path, frame), "sid", ["pm20200102", "pm20200101"], "pm%Y%m%d")
    assert [format_time(t)[:10] for t in panel.times] == ["2020-01-01", "2020-01-02"]
    np.testing.assert_array_equal(panel.values, np.array([[1.0, 2.0], [3.0, np.nan]], dtype=np.float32))


def test_wide_and_long_give_the_same_panel(tmp_path):
    long = pm10_panel()
    fields = [format_time(t)[:10] for t in long.times[:5]]
    wide = pd.DataFrame(long.values[:, :5], columns=fields)
    wide.insert(0, "station_id", long.ids)
    frame = gpd.GeoDataFrame(wide, geometry=gpd.points_from_xy(long.xy[:, 0], long.xy[:, 1]), crs="EPSG:32632")
    panel = read_wide_points(write_layer(tmp_path, frame), "station_id", fields)
    np.testing.assert_array_equal(panel.values, long.values[:, :5])
    assert panel.times.tolist() == long.times[:5].tolist()


def test_geographic_panel_is_projected_to_utm():
    panel = pm10_panel()
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(panel.xy[:, 0], panel.xy[:, 1]), crs="EPSG:32632")
    lonlat = frame.to_crs("EPSG:4326")
    geographic = type(panel)(
        panel.ids, np.column_stack([lonlat.geometry.x, lonlat.geometry.y]), "EPSG:4326", panel.times, panel.values
    )
    metric = to_metric(geographic)
    assert "UTM zone 32N" in metric.crs
    np.testing.assert_allclose(metric.xy, panel.xy, atol=0.01)
