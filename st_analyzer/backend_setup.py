"""The backend's private virtual environment: made on top of the Python that QGIS runs, filled with pip.

The environment sees QGIS's own packages (``--system-site-packages``), so the GDAL stack of QGIS
(rasterio, geopandas, pyproj, shapely) is shared and never replaced; pip installs only the bundled
backend wheel, what that Python lacks of the plain numeric packages, and torch. QGIS's own Python is
never changed. A new environment is removed again when the set-up fails or is cancelled, so no half
environment is left; an existing one is repaired or upgraded in place.

QGIS-free: the Processing algorithm ``setupbackend`` and the tests drive :class:`BackendSetup`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
WHEEL_DIR = PLUGIN_DIR / "backend_wheel"  # filled by `make package`
VENV_FOLDER_NAME = "st_analyzer_backend"
TORCH_CHOICES = ("cpu", "cuda", "none")
TORCH_INDEX_VARIABLE = "ST_ANALYZER_TORCH_INDEX"  # overrides the index torch comes from ("" = pip's own)
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
CUDA_TORCH_INDEX_WINDOWS = "https://download.pytorch.org/whl/cu126"
# What the backend imports: the GDAL stack comes from QGIS's Python (never pip: its wheels carry their own
# GDAL/PROJ, which crash QGIS); the rest pip may add when missing.
GDAL_STACK = {"rasterio": "rasterio", "geopandas": "geopandas", "pyproj": "pyproj", "shapely": "shapely"}
PIP_PACKAGES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "statsmodels": "statsmodels",
    "sklearn": "scikit-learn",
    "affine": "affine",
    "threadpoolctl": "threadpoolctl",
    "dask": "dask",
    "distributed": "distributed",
    "xarray": "xarray",
    "statsforecast": "statsforecast",
}
# Installed without their dependencies: they would pull pip wheels of the GDAL stack (rioxarray → rasterio, pyproj).
PIP_PACKAGES_NO_DEPS = {"rioxarray": "rioxarray"}
GDAL_STACK_HINT = {
    "linux": "install them with the system's packages (Debian/Ubuntu: apt install python3-rasterio python3-geopandas)",
    "win32": "install them with the OSGeo4W installer (Advanced install: python3-rasterio, python3-geopandas)",
    "darwin": "use a QGIS build that includes them, or a conda environment with QGIS (conda-forge)",
}
POLL_S = 0.2


class SetupError(RuntimeError):
    """The environment could not be made; the message says why and what to do."""


class SetupCancelled(SetupError):
    """The user cancelled; nothing half-made was left."""


def default_folder(profile_dir: str | Path) -> Path:
    """Where the environment lives by default: inside the user's QGIS profile folder."""
    return Path(profile_dir) / VENV_FOLDER_NAME


def venv_python(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder / "Scripts" / "python.exe" if os.name == "nt" else folder / "bin" / "python"


def bundled_wheel() -> Path | None:
    """The backend wheel that travels in the plugin zip (None in a source checkout without `make package`)."""
    wheels = sorted(WHEEL_DIR.glob("st_analyzer_backend-*.whl"))
    return wheels[-1] if wheels else None


@dataclass
class SetupPlan:
    """base_python: the interpreter QGIS runs; torch: one of :data:`TORCH_CHOICES`; wheelhouse: install only
    from this folder (machines without internet)."""

    base_python: str
    folder: Path
    torch: str = "cpu"
    wheelhouse: Path | None = None
    wheel: Path | None = field(default_factory=bundled_wheel)


class BackendSetup:
    """Runs the steps of a :class:`SetupPlan`; ``report(percent, text)``, ``log(text)``, ``cancelled()``."""

    STEPS = (
        "Creating the environment",
        "Checking QGIS's GDAL stack",
        "Adding missing packages",
        "Installing the backend",
        "Installing torch",
        "Checking the backend",
    )

    def __init__(
        self,
        plan: SetupPlan,
        report: Callable[[float, str], None] = lambda p, t: None,
        log: Callable[[str], None] = lambda t: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        if plan.torch not in TORCH_CHOICES:
            raise SetupError(f"Unknown torch choice {plan.torch!r}; use one of {', '.join(TORCH_CHOICES)}.")
        self.plan, self.report, self.log, self.cancelled = plan, report, log, cancelled

    # --- running commands ---------------------------------------------------------------------

    def _run(self, command: list[str], what: str) -> str:
        """Run ``command``, logging its output; cancel kills it; a failure raises :class:`SetupError`."""
        self.log("$ " + " ".join(command))
        options = (
            {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
            if os.name == "nt"
            else {"start_new_session": True}
        )
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONHOME", None)
        env.pop("PYTHONPATH", None)
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, **options
            )
            while process.poll() is None:
                if self.cancelled():
                    self._kill(process)
                    raise SetupCancelled("Set-up cancelled; nothing was left half-made.")
                time.sleep(POLL_S)
            output.seek(0)
            text = output.read()
        for line in text.splitlines()[-40:]:
            self.log(line)
        if process.returncode != 0:
            last = [line for line in text.splitlines() if line.strip()][-3:]
            raise SetupError(
                f"{what} failed: {' / '.join(last) or f'exit code {process.returncode}'}. " + self._network_hint()
            )
        return text

    def _network_hint(self) -> str:
        if self.plan.wheelhouse:
            return f"Check that {self.plan.wheelhouse} holds the wheels needed (see the log for their names)."
        return (
            "Check the internet connection (or proxy settings), or give a folder of wheels as WHEELHOUSE "
            "for a machine without internet."
        )

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        try:
            if os.name == "nt":
                process.kill()
            else:
                os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()

    def _pip(self, python: Path, arguments: list[str], what: str) -> str:
        source = ["--no-index", "--find-links", str(self.plan.wheelhouse)] if self.plan.wheelhouse else []
        return self._run([str(python), "-m", "pip", "install", *source, *arguments], what)

    def _missing(self, python: Path, modules: list[str]) -> list[str]:
        probe = (
            "import importlib.util, sys; "
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
        )
        return self._run([str(python), "-c", probe, *modules], "Looking for installed packages").split()

    # --- the steps ------------------------------------------------------------------------------

    def run(self) -> Path:
        """Make or repair the environment; returns its Python interpreter."""
        plan = self.plan
        if plan.wheel is None or not Path(plan.wheel).is_file():
            raise SetupError(
                "This copy of the plugin carries no backend wheel (it is added by 'make package'). "
                "Install the plugin from its zip, or install the backend by hand (README, manual set-up)."
            )
        if plan.wheelhouse is not None and not Path(plan.wheelhouse).is_dir():
            raise SetupError(f"The wheel folder {plan.wheelhouse} does not exist.")
        folder = Path(plan.folder).expanduser().absolute()
        in_place = venv_python(folder).is_file()
        if folder.exists() and not in_place:
            if any(folder.iterdir()):
                raise SetupError(f"{folder} exists and is not a Python environment; choose an empty or new FOLDER.")
            folder.rmdir()
        try:  # made where it stays: a venv's scripts name their own folder, so it cannot be moved afterwards
            python = self._steps(folder, in_place)
        except BaseException:
            if not in_place:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        self.report(100.0, "Done")
        return python

    def _steps(self, target: Path, in_place: bool) -> Path:
        plan, step = self.plan, iter(range(len(self.STEPS)))

        def next_step() -> None:
            index = next(step)
            self.report(100.0 * index / len(self.STEPS), self.STEPS[index])

        next_step()
        if in_place:
            self.log(f"Repairing and upgrading the environment in {target}.")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._run(
                [plan.base_python, "-m", "venv", "--system-site-packages", str(target)],
                "Creating the virtual environment (python -m venv)",
            )
        python = venv_python(target)
        if not python.is_file():
            raise SetupError(
                f"{plan.base_python} made no interpreter in {target}; is its venv module installed "
                "(Debian/Ubuntu: apt install python3-venv)?"
            )
        next_step()
        missing_gdal = self._missing(python, list(GDAL_STACK))
        if missing_gdal:
            hint = GDAL_STACK_HINT.get(sys.platform, GDAL_STACK_HINT["linux"])
            raise SetupError(
                f"QGIS's Python ({plan.base_python}) lacks {', '.join(missing_gdal)}, which must come "
                f"with QGIS's own GDAL: {hint}; then run 'Set up backend' again."
            )
        next_step()
        missing = self._missing(python, list(PIP_PACKAGES))
        numpy_pin = [] if "numpy" in missing else self._installed_numpy_pin(python)
        if missing:
            self._pip(
                python,
                [*numpy_pin, *(PIP_PACKAGES[m] for m in missing)],
                f"Installing {', '.join(PIP_PACKAGES[m] for m in missing)}",
            )
            numpy_pin = numpy_pin or self._installed_numpy_pin(python)  # numpy was just added
        missing_no_deps = self._missing(python, list(PIP_PACKAGES_NO_DEPS))
        if missing_no_deps:
            names = [PIP_PACKAGES_NO_DEPS[m] for m in missing_no_deps]
            self._pip(python, ["--no-deps", *names], f"Installing {', '.join(names)} (on QGIS's GDAL stack)")
        next_step()
        self._pip(python, ["--no-deps", "--force-reinstall", str(plan.wheel)], "Installing the st_analyzer backend")
        next_step()
        self._install_torch(python, numpy_pin)
        next_step()
        info = self._run([str(python), "-m", "backend", "info"], "Starting the backend")
        self.log(info.strip().splitlines()[-1] if info.strip() else "")
        return python

    def _installed_numpy_pin(self, python: Path) -> list[str]:
        """Keep the numpy QGIS uses: pip may add packages around it, never replace it."""
        version = self._run([str(python), "-c", "import numpy; print(numpy.__version__)"], "Reading numpy's version")
        return [f"numpy=={version.strip()}"] if version.strip() else []

    def _install_torch(self, python: Path, numpy_pin: list[str]) -> None:
        choice = self.plan.torch
        if choice == "none":
            self.log("torch skipped: the forecasting algorithms will say how to add it.")
            return
        if not self._missing(python, ["torch"]):
            self.log("torch is already installed; kept.")
            return
        if choice == "cuda" and sys.platform == "darwin":
            raise SetupError("There is no CUDA build of torch for macOS; choose the CPU build.")
        override = os.environ.get(TORCH_INDEX_VARIABLE)
        if self.plan.wheelhouse:
            index: list[str] = []
        elif override is not None:
            index = ["--index-url", override] if override else []
        elif choice == "cpu" and sys.platform != "darwin":
            index = ["--index-url", CPU_TORCH_INDEX]
        elif choice == "cuda" and os.name == "nt":
            index = ["--index-url", CUDA_TORCH_INDEX_WINDOWS]
        else:
            index = []  # PyPI: the CUDA build on Linux, the CPU build on macOS
        self._pip(
            python, [*numpy_pin, *index, "torch"], f"Installing torch ({'CPU' if choice == 'cpu' else 'CUDA'} build)"
        )
