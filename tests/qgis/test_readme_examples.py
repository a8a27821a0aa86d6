"""Every `qgis_process` example of the README runs, as written, on the QGIS of this environment.

The README's bash blocks are read in order (variables such as F and S carry over, outputs of one example feed
the next), `/tmp/` is replaced by a private folder, and the commands run in a copy of sample_data. Training
examples run with 1 epoch (and at most 5 batches per epoch where the algorithm has BATCHES_PER_EPOCH) to keep
the suite short; every other parameter is the README's. Examples that need torch are skipped where the
backend has none (the Debian chroots of newer QGIS; the host covers them).
"""

import os
import re
import shlex
import shutil
import subprocess

import pytest

from tests.paths import REPO, SAMPLE
from tests.qgis.conftest import QGIS_PROCESS, qgis_process_env

pytestmark = pytest.mark.qgis_process

TORCH_ALGORITHMS = (
    "trainrasterforecaster",
    "forecastraster",
    "trainnetworkforecaster",
    "forecastnetwork",
    "raster_forecast_and_anomalies",
    "sensor_network_anomalies",
)


def readme_commands() -> list[tuple[str, dict[str, str]]]:
    """(command line, shell variables defined before it) of every `qgis_process.bin run` in the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands, variables = [], {}
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            assignment = re.match(r"^([A-Z]+)=(\".*\")$", line)
            if assignment:
                variables[assignment.group(1)] = shlex.split(assignment.group(2))[0]
            elif line.startswith("qgis_process.bin run "):
                commands.append((line, dict(variables)))
    return commands


COMMANDS = readme_commands()


def algorithm_of(command: str) -> str:
    return command.split()[2].split(":", 1)[1]


def shortened(command: str) -> str:
    """1 epoch (README: 30) and few batches, so that the training examples fit in a test run."""
    if not algorithm_of(command).startswith("train") and "epochs=" not in command:
        return command
    command = re.sub(r"\bEPOCHS=\d+", "EPOCHS=1", command)
    command = re.sub(r"\bepochs=\d+", "epochs=1", command)
    command = re.sub(r"\bBATCHES_PER_EPOCH=\d+", "BATCHES_PER_EPOCH=5", command)
    if algorithm_of(command).startswith("train") and "EPOCHS=" not in command:
        command += " EPOCHS=1"
    if algorithm_of(command) == "trainnetworkforecaster" and "BATCHES_PER_EPOCH=" not in command:
        command += " BATCHES_PER_EPOCH=5"
    return command


def backend_has_torch() -> bool:
    python = os.environ.get("ST_ANALYZER_PYTHON", "python3")
    return subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """(folder with a copy of sample_data — QGIS may rewrite GeoPackages it opens — and out/, environment of a
    qgis_process with the plugin enabled in a private profile)."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(SAMPLE, root / "sample_data")
    (root / "out").mkdir()
    env = qgis_process_env(root / "profile")
    enabled = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "st_analyzer"], env=env, capture_output=True, text=True, timeout=120
    )
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return root, env


def test_the_readme_has_examples_for_every_algorithm():
    used = {algorithm_of(command) for command, _ in COMMANDS}
    assert {
        "buildrasterstack",
        "stkriging",
        "trainrasterforecaster",
        "timeseriesdiagnostics",
        "emerginghotspots",
        "detectpointanomalies",
    } <= used and len(COMMANDS) >= 20


@pytest.mark.parametrize(
    "index", range(len(COMMANDS)), ids=[f"{i:02d}-{algorithm_of(c)}" for i, (c, _) in enumerate(COMMANDS)]
)
def test_readme_example_runs(workspace, index):
    root, env = workspace
    command, variables = COMMANDS[index]
    if algorithm_of(command) in TORCH_ALGORITHMS and not backend_has_torch():
        pytest.skip("needs torch, which this environment's backend does not have (the host runs it)")
    line = shortened(command).replace("/tmp/", f"{root / 'out'}/").replace("qgis_process.bin", QGIS_PROCESS, 1)
    done = subprocess.run(
        ["bash", "-c", line], cwd=root, env={**env, **variables}, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
