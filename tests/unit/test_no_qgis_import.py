"""The backend must run where QGIS is not installed: no module may import qgis."""

import pkgutil
import subprocess
import sys

import backend
from tests.paths import REPO


def test_importing_every_backend_module_never_imports_qgis():
    modules = [m.name for m in pkgutil.walk_packages(backend.__path__, "backend.") if m.name != "backend.__main__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:  # the torch engines where torch is not installed\n"
        "        if exc.name != 'torch': raise\n"
        "bad = sorted(m for m in sys.modules if m == 'qgis' or m.startswith('qgis.') or m.startswith('PyQt'))\n"
        "print(','.join(bad))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert len(modules) >= 10
    assert completed.stdout.strip() == ""
