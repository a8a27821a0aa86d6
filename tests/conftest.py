import json
import os
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine


@pytest.fixture
def slow_build_request(tmp_path):
    """A buildrasterstack request of 400 bands of 1000×1000 noise: seconds long, to cancel mid-way.

    Returns (request dict, request file, output folder).
    """
    noise = np.random.default_rng(0).random((1000, 1000), dtype=np.float32)
    source = tmp_path / "noise.tif"
    with rasterio.open(
        source,
        "w",
        driver="GTiff",
        width=1000,
        height=1000,
        count=1,
        dtype="float32",
        crs="EPSG:32632",
        transform=Affine(10, 0, 0, 0, -10, 0),
    ) as dst:
        dst.write(noise, 1)
    times = [f"2020-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z" for i in range(400)]
    out_dir = tmp_path / "out"
    request = {"output": str(out_dir / "big.tif"), "inputs": [str(source)] * 400, "time_source": "list", "times": times}
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(request))
    return request, path, out_dir


def pytest_sessionfinish(session, exitstatus):
    session.config.st_analyzer_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process with pytest's exit status once everything is reported, without the interpreter's
    final teardown: after pytest-qgis's exitQgis, Python wrappers still holding QGIS/Qt objects are destroyed at
    interpreter exit in an order that can abort a passed run ('double free or corruption' after the summary).
    The plugin inside QGIS and the backend's own processes never run this path."""
    status = getattr(config, "st_analyzer_exit_status", None)
    if status is None or "qgis" not in sys.modules:
        return
    copies = sys.modules.get("tests.qgis.data")
    if copies is not None:  # os._exit skips atexit: the sample copies are removed here
        copies.remove_copy()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
