"""Real `qgis_process` subprocess runs, as analysts' batch scripts call the algorithms."""

import numpy as np
import pytest
import rasterio

from st_analyzer.__about__ import DIR_PLUGIN_ROOT
from tests.qgis.data import ERA5_DAILY, PM10_Q1

pytestmark = pytest.mark.qgis_process


def test_list_shows_the_provider_and_both_algorithms(qgis_process):
    listing = qgis_process("list").stdout
    assert "Space-time analyzer" in listing
    assert "stanalyzer:buildrasterstack" in listing and "stanalyzer:describespacetime" in listing


def test_buildrasterstack_writes_bands_with_times_and_values(qgis_process, tmp_path):
    out = tmp_path / "stack.tif"
    done = qgis_process(
        "run",
        "stanalyzer:buildrasterstack",
        "--",
        f"FOLDER={ERA5_DAILY}",
        "FILE_FILTER=t2m_*.tif",
        "TIME_SOURCE=0",
        "FILENAME_PATTERN=%Y%m%d",
        f"OUTPUT={out}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(out) as stack, rasterio.open(ERA5_DAILY / "t2m_20190315.tif") as day15:
        assert stack.count == 27
        assert stack.descriptions[0] == "2019-03-01T00:00:00Z" and stack.descriptions[-1] == "2019-03-27T00:00:00Z"
        assert stack.tags(15)["time"] == "2019-03-15T00:00:00Z"
        np.testing.assert_array_equal(stack.read(15), day15.read(1))


def test_describespacetime_on_points(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:describespacetime",
        "--",
        f"INPUT={PM10_Q1}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        f"OUTPUT_HTML={tmp_path / 'p.html'}",
        f"OUTPUT_TABLE={tmp_path / 'p.csv'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "90 time steps from 2005-01-01T00:00:00Z to 2005-03-31T00:00:00Z, step 1 day" in done.stdout
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 69


def test_bad_input_fails_with_the_message_and_no_output(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:describespacetime",
        "--",
        f"INPUT={PM10_Q1}",
        "ID_FIELD=station_id",
        "TIME_FIELD=pm10",
        "VALUE_FIELD=pm10",
        f"OUTPUT_HTML={tmp_path / 'p.html'}",
    )
    assert done.returncode != 0
    assert "are numbers" in done.stdout + done.stderr and "not dates or times" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_shipped_model_runs_headless(qgis_process, tmp_path):
    model = DIR_PLUGIN_ROOT / "resources" / "models" / "build_and_describe_stack.model3"
    done = qgis_process(
        "run",
        str(model),
        "--",
        f"folder={ERA5_DAILY}",
        "pattern=%Y%m%d",
        f"build:Raster time stack={tmp_path / 's.tif'}",
        f"describe:Summary report={tmp_path / 'r.html'}",
        f"describe:Per time step table={tmp_path / 't.csv'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "s.tif") as src:
        assert src.count == 27
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 28


@pytest.mark.parametrize("rule, name", [(1, "mean"), (4, "last")])
def test_repeated_readings_merged_with_duplicates(qgis_process, tmp_path, rule, name):
    import geopandas as gpd
    import pandas as pd

    frame = gpd.read_file(PM10_Q1)
    frame = pd.concat([frame, frame.iloc[:3]], ignore_index=True)  # three readings logged twice
    frame.to_file(tmp_path / "repeated.gpkg", driver="GPKG")
    args = (
        "run",
        "stanalyzer:describespacetime",
        "--",
        f"INPUT={tmp_path / 'repeated.gpkg'}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        f"OUTPUT_HTML={tmp_path / 'r.html'}",
    )
    refused = qgis_process(*args)
    assert refused.returncode != 0 and "DUPLICATES" in refused.stdout + refused.stderr
    done = qgis_process(*args, f"DUPLICATES={rule}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"6 features at 3 repeated station-times merged into one each ({name})" in done.stdout
