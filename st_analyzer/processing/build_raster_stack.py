"""stanalyzer:buildrasterstack — rasters (or a folder of them) → one GeoTIFF with a time per band."""

import os
import re

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from st_analyzer.layers import RasterResultPostProcessor
from st_analyzer.processing.common import StAlgorithm, add_choice, choice_of
from st_analyzer.processing.inputs import (
    add_units_parameter,
    add_variable_parameter,
    file_of_gdal_name,
    raster_paths_of,
    units_of,
    variable_of,
)
from st_analyzer.temporal import band_times, time_span_text

TIME_SOURCES = [
    ("filename", "From the file name (pattern)"),
    ("list", "From a list of times"),
    ("metadata", "From band metadata (tags, descriptions, NetCDF time)"),
]
RESAMPLING = [(m, m) for m in ("nearest", "bilinear", "cubic", "average")]


def stack_name(path: str) -> str:
    """A stack's name from its first input or folder: t2m_20190301.tif → t2m, era5/ → era5."""
    stem = os.path.splitext(os.path.basename(file_of_gdal_name(path).rstrip("/\\")))[0]
    return re.sub(r"[_\-. ]*\d{4}[\d_\-]*$", "", stem) or stem


class BuildRasterStackAlgorithm(StAlgorithm):
    ALG_ID = "buildrasterstack"
    TITLE = "Build raster time stack"
    HELP = (
        "Stacks rasters into one multiband GeoTIFF with one band per time step, in time order. "
        "Each band's description is its ISO 8601 UTC time (also stored as band and dataset tags), "
        "so later algorithms and the temporal controller know when each band is.\n\n"
        "Inputs: raster layers and/or a folder whose files match a filter (e.g. *.tif). "
        "Times come from the file names (a strptime pattern such as %Y%m%d finds 20190301 in "
        "t2m_20190301.tif; %j is day of year), from a list (one ISO time per band, in input order, "
        "separated by commas or new lines), or from band metadata (time tags, ISO band "
        "descriptions, NetCDF time, GRIB valid time). NetCDF/HDF5 files with several variables (ERA5, CHIRPS, "
        "CMIP downloads): give VARIABLE (e.g. t2m); band times are then read from the file. Monthly, quarterly "
        "and yearly times stay calendar dates.\n\n"
        "All inputs must share one grid and CRS; otherwise the file that differs is named, unless "
        "'Resample onto the first grid' is ticked. Duplicate times are refused.\n\n"
        "Example: a folder of daily temperature GeoTIFFs t2m_YYYYMMDD.tif, pattern %Y%m%d → a "
        "27-band stack, band 1 = 2019-03-01T00:00:00Z."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                "INPUT_LAYERS", "Input rasters", QgsProcessing.TypeRaster, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "FOLDER", "Or a folder of rasters", behavior=QgsProcessingParameterFile.Folder, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterString("FILE_FILTER", "File filter in the folder", defaultValue="*.tif")
        )
        self.addParameter(QgsProcessingParameterBoolean("RECURSIVE", "Include sub-folders", defaultValue=False))
        add_variable_parameter(self)
        add_choice(self, "TIME_SOURCE", "Time source", TIME_SOURCES)
        self.addParameter(
            QgsProcessingParameterString(
                "FILENAME_PATTERN", "File name time pattern (strptime, e.g. %Y%m%d or %Y_%j)", defaultValue="%Y%m%d"
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "TIME_LIST",
                "Times, one per band in input order (ISO 8601, commas or new lines)",
                multiLine=True,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                "RESAMPLE", "Resample onto the first grid when grids differ", defaultValue=False
            )
        )
        add_choice(self, "RESAMPLING", "Resampling method", RESAMPLING, default=1)
        add_units_parameter(self, "Units of the values (e.g. K; empty = the inputs' band unit)")
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Raster time stack"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        inputs = raster_paths_of(self, parameters, "INPUT_LAYERS", context)
        folder = self.parameterAsFile(parameters, "FOLDER", context)
        if not inputs and not folder:
            raise QgsProcessingException("Choose input rasters or a folder of rasters.")
        times_text = self.parameterAsString(parameters, "TIME_LIST", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        request = {
            "output": output,
            "inputs": inputs,
            "folder": folder or None,
            "file_filter": self.parameterAsString(parameters, "FILE_FILTER", context) or "*",
            "recursive": self.parameterAsBoolean(parameters, "RECURSIVE", context),
            "time_source": choice_of(self, parameters, "TIME_SOURCE", context, TIME_SOURCES),
            "filename_pattern": self.parameterAsString(parameters, "FILENAME_PATTERN", context),
            "times": [t.strip() for t in times_text.replace("\n", ",").split(",") if t.strip()],
            "resample": self.parameterAsBoolean(parameters, "RESAMPLE", context),
            "resampling": choice_of(self, parameters, "RESAMPLING", context, RESAMPLING),
            "variable": variable_of(self, parameters, context),
            "units": units_of(self, parameters, context),
        }
        result = self.run_backend(request, [output], feedback)
        summary = result.summary
        feedback.pushInfo(
            f"{summary['bands']} bands, {summary['width']}×{summary['height']} px; "
            f"time step {summary['time_axis']['step']}, regular: {summary['time_axis']['regular']}."
        )
        span = time_span_text(summary["times"])
        name = variable_of(self, parameters, context) or stack_name(inputs[0] if inputs else folder)
        self.present(
            context,
            output,
            RasterResultPostProcessor,
            f"{name} stack {span}",
            f"Raster time stack of {name}: {summary['bands']} bands ({span}, step "
            f"{summary['time_axis']['step']}), band description = ISO time",
            value_range=(summary["value_min"], summary["value_max"]),
            units=summary.get("units"),
            **band_times(summary),
        )
        return {"OUTPUT": output}
