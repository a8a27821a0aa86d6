"""The plugin's input helpers: point layers (long or wide; duplicates, resampling, units), raster stacks and
NetCDF/HDF5 variables, raster-or-point series and sensor networks; each ``add_*`` declares parameters and the
matching ``*_of``/``*_request`` turns them into the backend's input (mirrors ``backend/commands/inputs.py``)."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from st_analyzer.processing.common import add_choice, add_memory_limit_parameter, add_optional_text, choice_of, text_of
from st_analyzer.runner import INPUT_COPY_PREFIX

POINT_FORMATS = [
    ("long", "Long: one feature per station and time (id, time, value fields)"),
    ("wide", "Wide: one feature per station, one value field per time"),
]


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
    add_optional_text(
        alg,
        "FIELD_TIME_PATTERN",
        "Time pattern in the value field names (wide format, e.g. pm%Y%m%d; empty = ISO names)",
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
    add_optional_text(alg, "UNITS", description)


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
        add_optional_text(
            alg, "RESAMPLE", "Resample to a regular step first (e.g. 1h, 1D, 1M, 3M, 1Y; empty = as read)"
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
    add_optional_text(
        alg, "TIME_FORMAT", "Format of a text time field (e.g. %d/%m/%Y %H:%M; empty = ISO 8601 or detected)"
    )


def time_format_of(alg: QgsProcessingAlgorithm, parameters, context) -> str | None:
    return text_of(alg, parameters, "TIME_FORMAT", context)


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
    add_optional_text(
        alg, "VARIABLE", "Variable of a NetCDF/HDF5 file with several (e.g. t2m; empty = the file's only one)"
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


# --- stations and series ---


def add_station_input(alg) -> None:
    """INPUT point layer (station observations) with the shared field parameters."""
    alg.addParameter(
        QgsProcessingParameterVectorLayer(
            "INPUT", "Station observations (point layer)", types=[QgsProcessing.TypeVectorPoint]
        )
    )
    add_point_field_parameters(alg, parent="INPUT")


def station_input(alg, parameters, context, feedback):
    """(layer, backend PointInput request) for INPUT."""
    layer = alg.parameterAsVectorLayer(parameters, "INPUT", context)
    if layer is None:
        raise QgsProcessingException("Choose the station observation layer.")
    return layer, point_input_request(alg, parameters, context, layer, feedback)


def add_series_input(alg, memory_limit: bool = True) -> None:
    """INPUT (raster stack or point layer) with VARIABLE, the shared point field parameters and MEMORY_LIMIT."""
    alg.addParameter(QgsProcessingParameterMapLayer("INPUT", "Raster stack or point layer", types=ANY_POINT_OR_RASTER))
    add_variable_parameter(alg)
    add_point_field_parameters(alg, parent="INPUT", optional=True)
    if memory_limit:
        add_memory_limit_parameter(alg)


def series_source(alg, parameters, context, feedback) -> tuple[dict, bool]:
    """The backend ``SeriesSource`` and whether the input is a raster."""
    raster, layer = input_raster_or_layer(alg, parameters, context)
    if raster is not None:
        return {"raster": raster}, True
    if layer is None:
        raise QgsProcessingException("Choose a raster stack or a point layer.")
    if is_point_layer(layer):
        return {"points": point_input_request(alg, parameters, context, layer, feedback)}, False
    raise QgsProcessingException(f"{layer.name()} is neither a raster nor a point layer.")


# --- sensor networks ---

TABLE_FILTER = "Tables (*.csv *.parquet *.gpkg *.txt);;All files (*.*)"


SENSOR_INPUT_HELP = (
    "Input, either: SENSORS, a point layer with one feature per sensor and its ID_FIELD, plus OBSERVATIONS, a "
    "CSV/Parquet/GeoPackage table that is long (ID_FIELD, TIME_FIELD, VALUE_FIELD columns) or wide (a TIME_FIELD "
    "column and one column per sensor id, as traffic data usually come); or, for small data, INPUT, one long point "
    "layer with ID_FIELD, TIME_FIELD and VALUE_FIELD. Field names are typed (they may name columns of the table). "
    "MISSING_VALUE marks readings that mean 'no data' (e.g. 0 for loop-detector speeds). Readings must be on a "
    "regular step; set RESAMPLE (e.g. 5min, 1h, 1D, 1M) to aggregate irregular readings onto one with "
    "RESAMPLE_STATISTIC (mean by default)."
)


def add_sensor_inputs(alg) -> None:
    """SENSORS, ID_FIELD, OBSERVATIONS, INPUT, TIME_FIELD, VALUE_FIELD, TIME_FORMAT, MISSING_VALUE, RESAMPLE."""
    alg.addParameter(
        QgsProcessingParameterVectorLayer(
            "SENSORS",
            "Sensors (point layer, one feature per sensor)",
            types=[QgsProcessing.TypeVectorPoint],
            optional=True,
        )
    )
    alg.addParameter(QgsProcessingParameterString("ID_FIELD", "Sensor id field"))
    alg.addParameter(
        QgsProcessingParameterFile(
            "OBSERVATIONS",
            "Observation table (long or wide; CSV, Parquet, GeoPackage)",
            fileFilter=TABLE_FILTER,
            optional=True,
        )
    )
    alg.addParameter(
        QgsProcessingParameterVectorLayer(
            "INPUT", "Or: observations as one long point layer", types=[QgsProcessing.TypeVectorPoint], optional=True
        )
    )
    add_optional_text(alg, "TIME_FIELD", "Time field (empty = a column named time/date)")
    add_optional_text(alg, "VALUE_FIELD", "Value field (long format)")
    add_time_format_parameter(alg)
    add_duplicates_parameter(alg)
    alg.addParameter(
        QgsProcessingParameterNumber(
            "MISSING_VALUE",
            "Value that means missing (e.g. 0; empty = none)",
            QgsProcessingParameterNumber.Double,
            optional=True,
        )
    )
    add_optional_text(alg, "RESAMPLE", "Resample to a regular step first (e.g. 5min, 1h, 1D, 1M; empty = no)")
    add_resample_parameters(alg, with_step=False)
    add_units_parameter(alg, "Units of the readings (e.g. mph; for legends and reports)")


def sensor_request(alg, parameters, context, feedback) -> tuple[dict, str | None]:
    """The backend ``SensorInput`` and the RESAMPLE rule."""
    id_field = alg.parameterAsString(parameters, "ID_FIELD", context).strip()
    time_field = (alg.parameterAsString(parameters, "TIME_FIELD", context) or "").strip()
    value_field = (alg.parameterAsString(parameters, "VALUE_FIELD", context) or "").strip()
    time_format = time_format_of(alg, parameters, context)
    duplicates = duplicates_of(alg, parameters, context)
    resample = resample_of(alg, parameters, context)
    request = {
        "id_field": id_field,
        "time_field": time_field,
        "value_field": value_field,
        "time_format": time_format,
        "duplicates": duplicates,
        "resample_statistic": resample["resample_statistic"],
        "units": units_of(alg, parameters, context),
    }
    if parameters.get("MISSING_VALUE") not in (None, ""):
        request["missing_value"] = alg.parameterAsDouble(parameters, "MISSING_VALUE", context)
    sensors = alg.parameterAsVectorLayer(parameters, "SENSORS", context)
    observations = alg.parameterAsFile(parameters, "OBSERVATIONS", context)
    points = alg.parameterAsVectorLayer(parameters, "INPUT", context)
    if sensors is not None and observations:
        if sensors.featureCount() == 0:
            raise QgsProcessingException(f"The sensor layer {sensors.name()} has no features.")
        path, layer_name = ogr_path_of(sensors, feedback)
        request |= {"sensors": path, "sensors_layer": layer_name, "observations": observations}
    elif points is not None:
        if points.featureCount() == 0:
            raise QgsProcessingException(f"The layer {points.name()} has no features.")
        if not time_field or not value_field:
            raise QgsProcessingException("A long point layer (INPUT) needs TIME_FIELD and VALUE_FIELD.")
        path, layer_name = ogr_path_of(points, feedback)
        request["points"] = {
            "path": path,
            "layer": layer_name,
            "format": "long",
            "id_field": id_field,
            "time_field": time_field,
            "value_field": value_field,
            "time_format": time_format,
            "duplicates": duplicates,
        }
    else:
        raise QgsProcessingException(
            "Give SENSORS (point layer) with an OBSERVATIONS table, or INPUT (one long point layer)."
        )
    return request, resample["resample"]
