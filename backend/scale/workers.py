"""The backend on a cluster's workers: they run the engine functions, so they must import this package. Workers
without it get it sent as a zip (dask's ``upload_file``; their numpy, scipy, statsmodels and GDAL stack are their
own); workers with another version are named in a warning."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from backend.progress import Reporter

# Evaluated on each worker with the builtin eval: nothing of this package has to be importable there to run it.
_VERSION_PROBE = (
    "getattr(__import__('backend'), '__version__', '?') "
    "if __import__('importlib.util').util.find_spec('backend') else None"
)


def backend_zip(folder: Path) -> Path:
    """This process's backend package as ``folder/backend.zip`` (sources only), importable from a zip."""
    package = Path(__file__).resolve().parents[1]
    target = folder / "backend.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, Path("backend") / path.relative_to(package))
    return target


def ensure_backend_on_workers(client, reporter: Reporter) -> None:
    """Send the backend to the workers that lack it; warn about workers with another version."""
    from backend import __version__

    versions = client.run(eval, _VERSION_PROBE)
    lacking = [worker for worker, version in versions.items() if version is None]
    other = sorted({str(version) for version in versions.values() if version not in (None, __version__)})
    if lacking:
        with tempfile.TemporaryDirectory(prefix="st_analyzer_backend_") as folder:
            client.upload_file(str(backend_zip(Path(folder))))
        reporter.log(f"The st_analyzer backend {__version__} was sent to {len(lacking)} worker(s) that lacked it.")
    if other:
        reporter.warning(
            f"Some dask workers run st_analyzer backend {', '.join(other)}, this run {__version__}: results may "
            "differ. Install the same version on the workers (or restart them without it, so it is sent)."
        )
