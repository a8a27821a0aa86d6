"""Shared base class and parameter helpers for all st_analyzer algorithms.

Algorithms declare their parameters with the ``add_*`` helpers and turn them into backend
requests with the matching ``*_request`` helpers, so that names and behaviour stay alike.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from st_analyzer.runner import (
    INPUT_COPY_PREFIX,
    BackendError,
    BackendResult,
    BackendRunner,
    input_copy_folders,
    resolve_python,
)
from st_analyzer.settings import configured_python

POINT_FORMATS = [
    ("long", "Long: one feature per station and time (id, time, value fields)"),
    ("wide", "Wide: one feature per station, one value field per time"),
]


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
        text = self.HELP + ("\n\n" + UNITS_HELP if self.parameterDefinition("UNITS") is not None else "")
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


def add_point_field_parameters(alg: QgsProcessingAlgorithm, parent: str = "INPUT", optional: bool = False) -> None:
    """ID_FIELD, TIME_FIELD, VALUE_FIELD (long format) plus FORMAT, VALUE_FIELDS, FIELD_TIME_PATTERN (wide)."""
    add_choice(alg, "FORMAT", "Point layer format", POINT_FORMATS)
    alg.addParameter(
        QgsProcessingParameterField("ID_FIELD", "Station id field", parentLayerParameterName=parent, optional=optional)
    )
    alg.addParameter(
        QgsProcessingParameterField(
            "TIME_FIELD", "Time field (long format)", parentLayerParameterName=parent, optional=True
        )
    )
    alg.addParameter(
        QgsProcessingParameterField(
            "VALUE_FIELD",
            "Value field (long format)",
            parentLayerParameterName=parent,
            optional=True,
            type=QgsProcessingParameterField.Numeric,
        )
    )
    alg.addParameter(
        QgsProcessingParameterField(
            "VALUE_FIELDS",
            "Value fields, one per time (wide format)",
            parentLayerParameterName=parent,
            optional=True,
            allowMultiple=True,
            type=QgsProcessingParameterField.Numeric,
        )
    )
    alg.addParameter(
        QgsProcessingParameterString(
            "FIELD_TIME_PATTERN",
            "Time pattern in the value field names (wide format, e.g. pm%Y%m%d; empty = ISO names)",
            optional=True,
        )
    )
    add_time_format_parameter(alg)
    add_duplicates_parameter(alg)
    add_resample_parameters(alg)
    add_units_parameter(alg)


UNITS_HELP = (
    "UNITS (e.g. µg/m³) names the unit of the values: legends, report axes and the band unit of raster "
    "results show it (rasters bring their own band unit, e.g. a NetCDF variable's units). Results are named "
    "after the input, and their metadata abstract (Layer Properties ▸ Metadata, also in a .qmd beside the "
    "file) says what they are and which run, with which settings, made them."
)


def add_units_parameter(
    alg: QgsProcessingAlgorithm, description: str = "Units of the values (e.g. µg/m³; for legends and reports)"
) -> None:
    """UNITS: the unit of the input values (optional text)."""
    alg.addParameter(QgsProcessingParameterString("UNITS", description, optional=True))


def units_of(alg: QgsProcessingAlgorithm, parameters, context) -> str | None:
    return text_of(alg, parameters, "UNITS", context)


RESAMPLE_STATISTICS = [
    ("mean", "Mean"),
    ("median", "Median"),
    ("sum", "Sum"),
    ("last", "Last reading"),
    ("first", "First reading"),
    ("min", "Minimum"),
    ("max", "Maximum"),
]
RESAMPLE_HELP = (
    "RESAMPLE aggregates each station's readings to a regular step first (1h, 1D, 7D, 1M month, 3M "
    "quarter, 1Y year; calendar steps start on the first of the month) with RESAMPLE_STATISTIC; the log "
    "counts the empty steps."
)


def add_resample_parameters(alg: QgsProcessingAlgorithm, with_step: bool = True) -> None:
    """RESAMPLE (a regular step: 1h, 1D, 1M, 3M, 1Y; empty = as read) and RESAMPLE_STATISTIC (0 mean … 6 max)."""
    if with_step:
        alg.addParameter(
            QgsProcessingParameterString(
                "RESAMPLE", "Resample to a regular step first (e.g. 1h, 1D, 1M, 3M, 1Y; empty = as read)", optional=True
            )
        )
    add_choice(alg, "RESAMPLE_STATISTIC", "Statistic of the readings in each resampled step", RESAMPLE_STATISTICS, 0)


def resample_of(alg: QgsProcessingAlgorithm, parameters, context) -> dict[str, Any]:
    """The ``resample`` step (None = as read) and ``resample_statistic`` of a point or sensor input."""
    return {
        "resample": text_of(alg, parameters, "RESAMPLE", context),
        "resample_statistic": choice_of(alg, parameters, "RESAMPLE_STATISTIC", context, RESAMPLE_STATISTICS),
    }


DUPLICATE_RULES = [
    ("refuse", "Refuse and name them"),
    ("mean", "Mean"),
    ("median", "Median"),
    ("first", "First reading"),
    ("last", "Last reading"),
    ("sum", "Sum"),
]


def add_duplicates_parameter(alg: QgsProcessingAlgorithm) -> None:
    """DUPLICATES: what to do with repeated readings of one station at one time (0 refuse … 5 sum)."""
    add_choice(alg, "DUPLICATES", "Repeated readings of a station at one time", DUPLICATE_RULES, 0)


def duplicates_of(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    return choice_of(alg, parameters, "DUPLICATES", context, DUPLICATE_RULES)


def add_time_format_parameter(alg: QgsProcessingAlgorithm) -> None:
    """TIME_FORMAT: strptime pattern of a text time field (empty = ISO 8601, or one format inferred per column)."""
    alg.addParameter(
        QgsProcessingParameterString(
            "TIME_FORMAT",
            "Format of a text time field (e.g. %d/%m/%Y %H:%M; empty = ISO 8601 or detected)",
            optional=True,
        )
    )


def text_of(alg: QgsProcessingAlgorithm, parameters, name: str, context) -> str | None:
    """An optional text parameter, stripped; None when empty."""
    return (alg.parameterAsString(parameters, name, context) or "").strip() or None


def time_format_of(alg: QgsProcessingAlgorithm, parameters, context) -> str | None:
    return text_of(alg, parameters, "TIME_FORMAT", context)


def remove_input_copies(request: Any) -> None:
    """Delete the GeoPackage copies (made by :func:`ogr_path_of`) that ``request`` refers to."""
    for folder in input_copy_folders(request):
        shutil.rmtree(folder, ignore_errors=True)


def ogr_path_of(layer: QgsVectorLayer, feedback) -> tuple[str, str | None]:
    """A file path (and layer name) the backend can read: the layer's own file, or a GeoPackage copy."""
    if layer.providerType() == "ogr" and not layer.subsetString():
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        path = parts.get("path", "")
        if path and os.path.isfile(path):
            return path, parts.get("layerName") or None
    folder = tempfile.mkdtemp(prefix=INPUT_COPY_PREFIX, dir=QgsProcessingUtils.tempFolder())
    path = os.path.join(folder, "input.gpkg")
    feedback.pushInfo(f"Copying {layer.name()} to a GeoPackage for the backend.")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName, options.layerName = "GPKG", "input"
    result = QgsVectorFileWriter.writeAsVectorFormatV2(layer, path, layer.transformContext(), options)
    if result[0] != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"Cannot copy {layer.name()} for the backend: {result[1]}")
    return path, "input"


def point_input_request(
    alg: QgsProcessingAlgorithm, parameters, context, layer: QgsVectorLayer, feedback
) -> dict[str, Any]:
    """The backend's ``PointInput`` for a point layer and the shared field parameters."""
    if layer.featureCount() == 0:
        raise QgsProcessingException(f"The layer {layer.name()} has no features.")
    path, layer_name = ogr_path_of(layer, feedback)
    fmt = choice_of(alg, parameters, "FORMAT", context, POINT_FORMATS)
    request = {
        "path": path,
        "layer": layer_name,
        "format": fmt,
        "id_field": alg.parameterAsString(parameters, "ID_FIELD", context),
        "time_field": alg.parameterAsString(parameters, "TIME_FIELD", context),
        "value_field": alg.parameterAsString(parameters, "VALUE_FIELD", context),
        "value_fields": alg.parameterAsFields(parameters, "VALUE_FIELDS", context),
        "field_time_pattern": alg.parameterAsString(parameters, "FIELD_TIME_PATTERN", context) or None,
        "time_format": time_format_of(alg, parameters, context),
        "duplicates": duplicates_of(alg, parameters, context),
        **resample_of(alg, parameters, context),
        "units": units_of(alg, parameters, context),
    }
    fields = layer.fields().names()
    for key in ("id_field", "time_field", "value_field"):
        if request[key] and request[key] not in fields:
            raise QgsProcessingException(f"Unknown field {request[key]!r}; {layer.name()} has: {', '.join(fields)}.")
    return request


# --- device --------------------------------------------------------------------------------

DEVICES = [("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")]


def add_device_parameter(alg: QgsProcessingAlgorithm, description: str = "Device (auto = GPU when present)") -> None:
    add_choice(alg, "DEVICE", description, DEVICES)


def device_of(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    return choice_of(alg, parameters, "DEVICE", context, DEVICES)


# --- rasters --------------------------------------------------------------------------------


def raster_path_of(layer: QgsRasterLayer) -> str:
    """The file behind a GDAL raster layer (the GDAL name of one variable for a NetCDF/HDF5 variable layer);
    other providers (WMS, …) are refused clearly."""
    if layer.providerType() != "gdal":
        raise QgsProcessingException(
            f"{layer.name()} is not a file raster (provider {layer.providerType()}); save it as GeoTIFF first."
        )
    if SUBDATASET_SOURCE.match(layer.source()):
        return layer.source()
    parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
    return parts.get("path") or layer.source()


SUBDATASET_SOURCE = re.compile(r"^(NETCDF|HDF5|HDF4_SDS|HDF4_EOS):", re.IGNORECASE)
VARIABLE_FILE_SUFFIXES = (".nc", ".nc4", ".cdf", ".h5", ".hdf5", ".he5")


def add_variable_parameter(alg: QgsProcessingAlgorithm) -> None:
    """VARIABLE: the variable of a NetCDF/HDF5 file with several (band times then come from the file)."""
    alg.addParameter(
        QgsProcessingParameterString(
            "VARIABLE",
            "Variable of a NetCDF/HDF5 file with several (e.g. t2m; empty = the file's only one)",
            optional=True,
        )
    )


def variable_of(alg: QgsProcessingAlgorithm, parameters, context) -> str | None:
    return text_of(alg, parameters, "VARIABLE", context)


def add_stack_input(alg: QgsProcessingAlgorithm, description: str = "Raster time stack") -> None:
    """INPUT: a multiband raster whose bands carry times (as made by 'Build raster time stack'), or a NetCDF/HDF5
    file with VARIABLE."""
    alg.addParameter(QgsProcessingParameterRasterLayer("INPUT", description))
    add_variable_parameter(alg)


def input_raster_or_layer(alg: QgsProcessingAlgorithm, parameters, context) -> tuple[str | None, Any]:
    """(GDAL name of the INPUT raster, None), with VARIABLE that variable of a NetCDF/HDF5 file; or (None, the
    INPUT layer) when it is not a raster; (None, None) when nothing was chosen."""
    variable = variable_of(alg, parameters, context)
    raw = parameters.get("INPUT")
    if is_variable_file(raw):  # a NetCDF/HDF5 path (qgis_process): QGIS would open it as a vector layer
        return (variable_path(raw, variable) if variable else raw), None
    layer = alg.parameterAsLayer(parameters, "INPUT", context)
    if isinstance(layer, QgsRasterLayer):
        path = raster_path_of(layer)
        return (variable_path(path, variable) if variable else path), None
    return None, layer


def stack_input(alg: QgsProcessingAlgorithm, parameters, context) -> str:
    """The GDAL name of the INPUT stack (with VARIABLE: that variable of the NetCDF/HDF5 file)."""
    raster, _layer = input_raster_or_layer(alg, parameters, context)
    if raster is None:
        raise QgsProcessingException("Choose a raster time stack.")
    return raster


def is_variable_file(value) -> bool:
    """True for a path string of a NetCDF/HDF5 file (read as rasters of its variables)."""
    return isinstance(value, str) and value.lower().endswith(VARIABLE_FILE_SUFFIXES) and os.path.isfile(value)


def raster_paths_of(alg: QgsProcessingAlgorithm, parameters, name: str, context) -> list[str]:
    """The files (or GDAL names) of a multiple-raster parameter; NetCDF/HDF5 paths are kept as paths."""
    raw = parameters.get(name)
    entries = raw if isinstance(raw, (list, tuple)) else [raw] if raw else []
    if not any(is_variable_file(entry) for entry in entries):
        return [raster_path_of(layer) for layer in alg.parameterAsLayerList(parameters, name, context)]
    paths = []
    for entry in entries:
        layer = None if is_variable_file(entry) else alg.parameterAsLayerList({name: [entry]}, name, context)
        paths += [entry] if layer is None else [raster_path_of(item) for item in layer]
    return paths


def variable_path(path: str, variable: str) -> str:
    """The GDAL name of ``variable`` in the NetCDF/HDF5 file ``path`` (or in the file behind a variable's name)."""
    file = file_of_gdal_name(path)
    if not file.lower().endswith(VARIABLE_FILE_SUFFIXES):
        raise QgsProcessingException(
            f"VARIABLE chooses a variable of a NetCDF or HDF5 file; {os.path.basename(file)} "
            "is neither. Leave VARIABLE empty for other rasters."
        )
    driver = "NETCDF" if file.lower().endswith((".nc", ".nc4", ".cdf")) else "HDF5"
    return f'{driver}:"{file}":{variable}'


def file_of_gdal_name(path: str) -> str:
    """The file of a NetCDF/HDF5 variable's GDAL name ('NETCDF:"f.nc":t2m' → f.nc), or the path itself."""
    match = re.match(r'^[A-Z0-9_]+:"?(.+?)"?:[^:"]+$', path) if SUBDATASET_SOURCE.match(path) else None
    return match.group(1) if match else path


def is_point_layer(layer) -> bool:
    from qgis.core import QgsWkbTypes

    return isinstance(layer, QgsVectorLayer) and layer.geometryType() == QgsWkbTypes.PointGeometry


ANY_POINT_OR_RASTER = [QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPoint]


# --- training ------------------------------------------------------------------------------


def add_training_parameters(alg: QgsProcessingAlgorithm, horizon: int, test_fraction: float) -> None:
    """LOOKBACK, HORIZON, EPOCHS, VALIDATION_FRACTION, TEST_FRACTION, HIDDEN, SEED, BATCHES_PER_EPOCH (shared by
    the forecasters)."""
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
    add_memory_limit_parameter(alg)


def training_config(alg: QgsProcessingAlgorithm, parameters, context) -> dict[str, Any]:
    """The backend training config from the shared training parameters."""
    config = {
        key.lower(): alg.parameterAsInt(parameters, key, context)
        for key in ("LOOKBACK", "HORIZON", "EPOCHS", "HIDDEN", "SEED")
    }
    config["max_batches_per_epoch"] = alg.parameterAsInt(parameters, "BATCHES_PER_EPOCH", context)
    for key in ("VALIDATION_FRACTION", "TEST_FRACTION"):
        config[key.lower()] = alg.parameterAsDouble(parameters, key, context)
    return config
