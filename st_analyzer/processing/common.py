"""Shared base class and parameter helpers for all st_analyzer algorithms.

Algorithms declare their parameters with the ``add_*`` helpers and turn them into backend
requests with the matching ``*_request`` helpers, so that names and behaviour stay alike.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
    QgsProviderRegistry,
)

from st_analyzer.runner import BackendError, BackendResult, BackendRunner, input_copy_folders, resolve_python
from st_analyzer.settings import configured_python

_PARAMETER_ID = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")


def short_label(description: str) -> str:
    """A parameter's label without its parenthesised hints: "Time step (e.g. 1 day, 6h)" → "Time step"."""
    return re.split(r"\s+\(", description, maxsplit=1)[0].strip()


def help_with_labels(text: str, definitions) -> str:
    """``text`` with each parameter id (EXTENT, NMAX …) written as “label” [ID]: the form shows labels, scripts
    for qgis_process use ids."""
    labels = {d.name(): short_label(d.description()) for d in definitions if d.description()}

    def label(match: re.Match) -> str:
        name = match.group(0)
        return f"“{labels[name]}” [{name}]" if name in labels and labels[name] != name else name

    return _PARAMETER_ID.sub(label, text)


class StAlgorithm(QgsProcessingAlgorithm):
    """Base of every algorithm: metadata from class attributes and the backend call."""

    ALG_ID = ""
    TITLE = ""
    GROUP_ID, GROUP = "data", "Data"
    HELP = ""
    COMMAND = ""  # the backend command; empty = the same as ALG_ID

    def name(self) -> str:
        return self.ALG_ID

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.TITLE

    def group(self) -> str:
        return self.GROUP

    def groupId(self) -> str:  # noqa: N802
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802
        """HELP with each parameter id written as the form shows it: the label, then the id for qgis_process."""
        from st_analyzer.processing.inputs import UNITS_HELP

        text = self.HELP + ("\n\n" + UNITS_HELP if self.parameterDefinition("UNITS") is not None else "")
        text += "\n\n" + SCHEDULER_HELP if self.parameterDefinition(SCHEDULER) is not None else ""
        return help_with_labels(text, self.parameterDefinitions())

    def createInstance(self):  # noqa: N802
        return type(self)()

    def prepareAlgorithm(self, parameters, context, feedback) -> bool:  # noqa: N802
        """Remember the input files and the memory limit (runs in the main thread, before processAlgorithm)."""
        self._source_files = source_files(self, parameters, context)
        self._run_text = run_description(self, parameters, context)
        self._input_label = input_label(self, parameters, context)
        self._memory_limit_mb = (
            self.parameterAsDouble(parameters, MEMORY_LIMIT, context)
            if self.parameterDefinition(MEMORY_LIMIT) is not None
            else 0.0
        )
        self._scheduler = (
            self.parameterAsString(parameters, SCHEDULER, context).strip()
            if self.parameterDefinition(SCHEDULER) is not None
            else ""
        )
        return True

    def present(self, context, path: str | None, processor, name: str, what: str, **style) -> None:
        """Load ``path`` as ``name`` (e.g. "pm10 kriged 2005-01-10…16"), styled by ``processor`` (a
        ResultPostProcessor class) with a metadata abstract saying ``what`` it is and which run made it; the style
        and metadata also go beside the file."""
        from st_analyzer.layers import name_result

        if not path:
            return
        name_result(context, path, name)
        processor.attach(context, path, title=name, abstract=self.abstract(what), **style)

    def abstract(self, what: str) -> str:
        """A layer abstract: ``what`` the layer is, then the run that made it."""
        return f"{what.rstrip('.')}. {getattr(self, '_run_text', '')}".strip()

    def input_label(self) -> str:
        """What the input is called in result names: the value field, else the input layer or variable."""
        return getattr(self, "_input_label", "") or self.displayName()

    def run_backend(self, request: dict[str, Any], output_paths: list[str], feedback) -> BackendResult:
        """Run this algorithm's backend command; backend problems become QgsProcessingException.

        ``output_paths`` are refused before any work when one of them is an input file."""
        refuse_output_over_input(output_paths, getattr(self, "_source_files", []))
        memory_limit = getattr(self, "_memory_limit_mb", 0.0)
        if memory_limit:
            request = {**request, "memory_limit_mb": memory_limit}
        scheduler = getattr(self, "_scheduler", "")
        if scheduler:
            request = {**request, "scheduler": scheduler}
        python = resolve_python(configured_python())
        feedback.pushDebugInfo(f"Backend interpreter: {python}")
        try:
            return BackendRunner(python, feedback, idle=process_events_on_main_thread).run(
                self.COMMAND or self.ALG_ID, request
            )
        except BackendError as exc:
            raise QgsProcessingException(str(exc)) from exc
        finally:
            remove_input_copies(request)


def run_description(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    """Which run made a result: plugin version, algorithm, time and the settings as given (ids, for qgis_process)."""
    from datetime import datetime, timezone

    from st_analyzer.__about__ import __version__

    settings = []
    for definition in alg.parameterDefinitions():
        name = definition.name()
        value = parameters.get(name)
        if definition.isDestination() or value is None or value == "":
            continue
        if definition.type() in _LAYER_PARAMETER_TYPES:
            layer = alg.parameterAsLayer(parameters, name, context)
            text = f"{layer.name()} ({_layer_file(layer) or layer.source()})" if layer is not None else str(value)
        else:
            text = definition.valueAsPythonString(value, context).strip("'\"")
        settings.append(f"{name}={text}")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Made by st_analyzer {__version__}, {alg.displayName()} (stanalyzer:{alg.name()}), on {stamp}. "
        f"Settings: {'; '.join(settings)}."
    )


def input_label(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    """The value field (e.g. pm10), else the variable, else the observation table's or the INPUT layer's name;
    "" when none."""
    for name in ("VALUE_FIELD", "VARIABLE"):
        if alg.parameterDefinition(name) is not None and parameters.get(name) not in (None, ""):
            return alg.parameterAsString(parameters, name, context)
    if alg.parameterDefinition("OBSERVATIONS") is not None and parameters.get("OBSERVATIONS") not in (None, ""):
        return os.path.splitext(os.path.basename(alg.parameterAsFile(parameters, "OBSERVATIONS", context)))[0]
    for name in ("INPUT", "SENSORS"):
        if alg.parameterDefinition(name) is not None and parameters.get(name) not in (None, ""):
            layer = alg.parameterAsLayer(parameters, name, context)
            if layer is not None:
                return layer.name()
    return ""


def process_events_on_main_thread() -> None:
    """Let Qt deliver pending events (a Ctrl+C in qgis_process cancels through them) when this run holds the
    main thread; runs in Processing's worker threads leave the event loop alone."""
    from qgis.PyQt.QtCore import QCoreApplication, QThread

    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread() == app.thread():
        QCoreApplication.processEvents()


# --- inputs and outputs ------------------------------------------------------------------------

MEMORY_LIMIT = "MEMORY_LIMIT"
_LAYER_PARAMETER_TYPES = {"raster", "vector", "source", "layer", "point_cloud", "mesh"}


def add_memory_limit_parameter(alg: QgsProcessingAlgorithm) -> None:
    """MEMORY_LIMIT (MB, 0 = a quarter of RAM): work estimated to need more is refused before it starts."""
    from qgis.core import QgsProcessingParameterDefinition, QgsProcessingParameterNumber

    parameter = QgsProcessingParameterNumber(
        MEMORY_LIMIT,
        "Memory limit in MB (0 = a quarter of RAM)",
        QgsProcessingParameterNumber.Double,
        0.0,
        minValue=0.0,
    )
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    alg.addParameter(parameter)


SCHEDULER = "SCHEDULER"
SCHEDULER_HELP = (
    "SCHEDULER (advanced) says where the work runs, chunk by chunk: empty = threads on all cores of this machine "
    "(the default), 'processes' = a local pool of worker processes, tcp://host:8786 = an existing dask.distributed "
    "scheduler (your cluster; its workers must read the input files by the same path, and the outputs are written "
    "here). MEMORY_LIMIT sets the chunk size."
)


def add_scheduler_parameter(alg: QgsProcessingAlgorithm) -> None:
    """SCHEDULER (text, advanced): where chunked work runs (see SCHEDULER_HELP); with MEMORY_LIMIT for chunk sizes."""
    from qgis.core import QgsProcessingParameterDefinition, QgsProcessingParameterString

    parameter = QgsProcessingParameterString(
        SCHEDULER, "Dask scheduler (empty = all local cores; processes; tcp://host:port)", "", optional=True
    )
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    alg.addParameter(parameter)


def _layer_file(layer) -> str | None:
    if layer is None:
        return None
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or layer.source().split("|")[0]
    return path if path and os.path.exists(path) else None


def source_files(alg: QgsProcessingAlgorithm, parameters, context) -> list[str]:
    """Files behind the algorithm's input parameters (layers' files, file and folder inputs)."""
    files = []
    for definition in alg.parameterDefinitions():
        name = definition.name()
        if definition.isDestination() or parameters.get(name) in (None, ""):
            continue
        kind = definition.type()
        if kind in _LAYER_PARAMETER_TYPES:
            files.append(_layer_file(alg.parameterAsLayer(parameters, name, context)))
        elif kind == "multilayer":
            files += [_layer_file(layer) for layer in alg.parameterAsLayerList(parameters, name, context)]
        elif kind == "file":
            files.append(alg.parameterAsFile(parameters, name, context))
    return [f for f in files if f and os.path.exists(f)]


def refuse_output_over_input(output_paths: list[str], inputs: list[str]) -> None:
    """QgsProcessingException when an output is the same file as an input (symlinks and GeoPackage
    layers included: a GeoPackage output replaces the whole file)."""
    for output in [p.split("|")[0] for p in output_paths if p]:
        if not os.path.exists(output):
            continue
        for source in inputs:
            try:
                same = os.path.samefile(output, source)
            except OSError:
                same = os.path.realpath(output) == os.path.realpath(source)
            if same:
                raise QgsProcessingException(
                    f"The output {output} is the input {source}. st_analyzer never writes "
                    "over its inputs: choose another output file."
                )


# --- choices ------------------------------------------------------------------------------


def add_choice(
    alg: QgsProcessingAlgorithm, name: str, description: str, choices: list[tuple], default: int = 0
) -> None:
    """An enum parameter from (backend key, label) pairs; the labels are what users see."""
    alg.addParameter(
        QgsProcessingParameterEnum(name, description, options=[label for _key, label in choices], defaultValue=default)
    )


def choice_of(alg: QgsProcessingAlgorithm, parameters, name: str, context, choices: list[tuple]):
    """The backend key of the chosen enum entry."""
    return choices[alg.parameterAsEnum(parameters, name, context)][0]


# --- outputs ------------------------------------------------------------------------------


def add_html_output(alg: QgsProcessingAlgorithm, name: str, description: str, optional: bool = True) -> None:
    """An HTML report output (shown in the Processing results viewer)."""
    alg.addParameter(
        QgsProcessingParameterFileDestination(name, description, fileFilter="HTML files (*.html)", optional=optional)
    )


def file_output(alg: QgsProcessingAlgorithm, parameters, name: str, context) -> str | None:
    """Path of a file output, or None when the optional output was skipped."""
    return alg.parameterAsFileOutput(parameters, name, context) or None


# --- point layers -------------------------------------------------------------------------


def add_optional_text(alg: QgsProcessingAlgorithm, name: str, description: str) -> None:
    """An optional text parameter (read with :func:`text_of`)."""
    alg.addParameter(QgsProcessingParameterString(name, description, optional=True))


def text_of(alg: QgsProcessingAlgorithm, parameters, name: str, context) -> str | None:
    """An optional text parameter, stripped; None when empty."""
    return (alg.parameterAsString(parameters, name, context) or "").strip() or None


def remove_input_copies(request: Any) -> None:
    """Delete the GeoPackage copies (made by :func:`ogr_path_of`) that ``request`` refers to."""
    for folder in input_copy_folders(request):
        shutil.rmtree(folder, ignore_errors=True)


# --- device --------------------------------------------------------------------------------

DEVICES = [("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")]


def add_device_parameter(alg: QgsProcessingAlgorithm, description: str = "Device (auto = GPU when present)") -> None:
    add_choice(alg, "DEVICE", description, DEVICES)


def device_of(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    return choice_of(alg, parameters, "DEVICE", context, DEVICES)


# --- rasters --------------------------------------------------------------------------------


# --- training ------------------------------------------------------------------------------


DEFAULT_TIME_BUDGET_MINUTES = 15.0  # training that ends in reasonable time on a laptop CPU; a GPU fills it faster
TIME_BUDGET_HELP = (
    "TIME_BUDGET (minutes, default 15; 0 = no limit): the first batches and one validation are timed, then the "
    "epochs (and, when fewer than 4 would fit, the batches per epoch) are planned to end within it; the best "
    "epoch's weights are kept and the log says what was planned.\n\n"
)
BLEND_HELP = (
    "The model's forecast is the network blended with the baselines: at each horizon step a weighted mean "
    "(weights ≥ 0, sum 1) fitted on the validation windows, the network weighted only where it adds to the "
    "baselines. So the model is not worse than its best baseline on those windows, and the report gives per step "
    "the weights, which part wins and the test scores of the network alone and of the blend. The baselines' "
    "fitted parameters are saved with the model (baselines.npz), so a forecast from recent readings only uses "
    "the same baselines.\n\n"
)


def add_training_parameters(alg: QgsProcessingAlgorithm, horizon: int, test_fraction: float) -> None:
    """LOOKBACK, HORIZON, EPOCHS, VALIDATION_FRACTION, TEST_FRACTION, HIDDEN, SEED, BATCHES_PER_EPOCH, TIME_BUDGET
    (shared by the forecasters)."""
    from qgis.core import QgsProcessingParameterNumber

    for name, label, default in (
        ("LOOKBACK", "Lookback (input steps)", 12),
        ("HORIZON", "Horizon (steps ahead)", horizon),
        ("EPOCHS", "Epochs (at most; early stopping)", 30),
    ):
        alg.addParameter(
            QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Integer, default, minValue=1)
        )
    for name, label, default in (
        ("VALIDATION_FRACTION", "Validation fraction (for early stopping)", 0.1),
        ("TEST_FRACTION", "Test fraction (held out, errors reported)", test_fraction),
    ):
        alg.addParameter(
            QgsProcessingParameterNumber(
                name, label, QgsProcessingParameterNumber.Double, default, minValue=0.0, maxValue=0.49
            )
        )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "HIDDEN", "Hidden channels (model size)", QgsProcessingParameterNumber.Integer, 32, minValue=2
        )
    )
    alg.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0))
    alg.addParameter(
        QgsProcessingParameterNumber(
            "BATCHES_PER_EPOCH",
            "Training batches per epoch (0 = all windows)",
            QgsProcessingParameterNumber.Integer,
            0,
            minValue=0,
        )
    )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "TIME_BUDGET",
            "Time budget for training (minutes; 0 = no limit)",
            QgsProcessingParameterNumber.Double,
            DEFAULT_TIME_BUDGET_MINUTES,
            minValue=0.0,
        )
    )
    add_memory_limit_parameter(alg)


def training_config(alg: QgsProcessingAlgorithm, parameters, context) -> dict[str, Any]:
    """The backend training config from the shared training parameters."""
    config = {
        key.lower(): alg.parameterAsInt(parameters, key, context)
        for key in ("LOOKBACK", "HORIZON", "EPOCHS", "HIDDEN", "SEED")
    }
    config["max_batches_per_epoch"] = alg.parameterAsInt(parameters, "BATCHES_PER_EPOCH", context)
    config["time_budget_minutes"] = alg.parameterAsDouble(parameters, "TIME_BUDGET", context)
    for key in ("VALIDATION_FRACTION", "TEST_FRACTION"):
        config[key.lower()] = alg.parameterAsDouble(parameters, key, context)
    return config
