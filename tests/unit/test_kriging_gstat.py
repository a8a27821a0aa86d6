"""Predictions and kriging variances equal R gstat krigeST (fixture made by make_gstat_fixture.R)."""

import functools
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from backend.data.point_io import PointLayerRef, read_long_points
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, krige, observations, time_in_model_units
from backend.kriging.st_models import SpaceTimeModel
from tests.paths import PM10_Q1, REPO

FIXTURES = REPO / "tests" / "fixtures" / "gstat"
REFERENCE = pd.read_csv(FIXTURES / "krigeST_reference.csv")
MODELS = json.loads((FIXTURES / "models.json").read_text())
HELD_OUT = ["DEBY047", "DENW063", "DEHE046", "DESH001", "DEBB065"]
ORIGIN = np.datetime64("2005-01-01T00:00:00")


@functools.cache
def pm10_panel():
    return read_long_points(PointLayerRef(str(PM10_Q1)), "station_id", "date", "pm10")


def case_inputs(case, model):
    panel = pm10_panel()
    last = np.datetime64("2005-01-11" if case == "global" else "2005-02-01")
    keep_time = panel.times < last
    keep = ~np.isin(panel.ids, HELD_OUT)
    data_panel = type(panel)(
        panel.ids[keep], panel.xy[keep], panel.crs, panel.times[keep_time], panel.values[keep][:, keep_time]
    )
    return panel, observations(data_panel, model, ORIGIN)


@pytest.mark.parametrize("case", ["global", "local"])
@pytest.mark.parametrize("name", list(MODELS))
def test_kriging_matches_gstat_krigest(case, name):
    model = SpaceTimeModel.from_dict(MODELS[name])
    panel, data = case_inputs(case, model)
    expected = REFERENCE[(REFERENCE["case"] == case) & (REFERENCE["model"] == name)]
    index = {s: i for i, s in enumerate(panel.ids)}
    rows = [index[s] for s in expected["station_id"]]
    targets = SpaceTimePoints(
        panel.xy[rows], time_in_model_units(expected["date"].to_numpy(dtype="datetime64[s]"), ORIGIN, model)
    )
    options = KrigingOptions(nmax=None if case == "global" else 20, st_ani=60000.0)
    pred, var = krige(data, targets, model, options)
    np.testing.assert_allclose(pred, expected["pred"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(var, expected["var"].to_numpy(), rtol=1e-6)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed (optional: apt install r-cran-gstat)")
def test_fixture_is_reproducible_with_installed_gstat(tmp_path):
    probe = subprocess.run(["Rscript", "-e", "library(gstat); library(spacetime); library(sf)"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("R packages gstat, spacetime or sf are missing")
    subprocess.run(
        ["Rscript", str(FIXTURES / "make_gstat_fixture.R"), str(tmp_path / "fresh.csv")],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "fresh.csv"), REFERENCE, rtol=1e-12)
