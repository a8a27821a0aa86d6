"""Parameters shared by the three kriging algorithms (model file, neighbourhood, device)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterFile, QgsProcessingParameterNumber

from st_analyzer.processing.common import add_device_parameter, add_memory_limit_parameter, device_of


def add_kriging_parameters(alg) -> None:
    alg.addParameter(
        QgsProcessingParameterFile(
            "MODEL_FILE",
            "Space-time variogram model (JSON from 'Fit space-time variogram'; empty = fit automatically)",
            extension="json",
            optional=True,
        )
    )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "NMAX",
            "Neighbours per prediction (0 = choose by cross-validation, −1 = all data)",
            QgsProcessingParameterNumber.Integer,
            0,
            minValue=-1,
        )
    )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "ST_ANI",
            "Space-time anisotropy for the neighbour search, m per time unit "
            "(0 = the model's, ×¼ or ×4 of it where cross-validation prefers)",
            QgsProcessingParameterNumber.Double,
            0.0,
            minValue=0.0,
        )
    )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "MEAN",
            "Known mean for simple kriging (empty = ordinary kriging)",
            QgsProcessingParameterNumber.Double,
            optional=True,
        )
    )
    add_device_parameter(alg, "Device for the kriging systems")
    add_memory_limit_parameter(alg)


def kriging_request(alg, parameters, context) -> dict:
    """``model_file`` and ``kriging`` settings of the backend request."""
    st_ani = alg.parameterAsDouble(parameters, "ST_ANI", context)
    has_mean = parameters.get("MEAN") not in (None, "")
    return {
        "model_file": alg.parameterAsFile(parameters, "MODEL_FILE", context) or None,
        "kriging": {
            "nmax": alg.parameterAsInt(parameters, "NMAX", context),  # 0 = choose by CV, −1 = all data
            "st_ani": st_ani or None,
            "mean": alg.parameterAsDouble(parameters, "MEAN", context) if has_mean else None,
            "device": device_of(alg, parameters, context),
        },
    }
