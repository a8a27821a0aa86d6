"""stanalyzer:trainrasterforecaster, forecastraster and baselineforecast — raster stack forecasting."""

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from st_analyzer.layers import RasterResultPostProcessor
from st_analyzer.processing.common import (
    BLEND_HELP,
    TIME_BUDGET_HELP,
    StAlgorithm,
    add_choice,
    add_device_parameter,
    add_html_output,
    add_memory_limit_parameter,
    add_scheduler_parameter,
    add_training_parameters,
    choice_of,
    device_of,
    file_output,
    training_config,
)
from st_analyzer.processing.inputs import add_stack_input, stack_input
from st_analyzer.temporal import band_times, time_span_text

MODEL_TYPES = [("convlstm", "ConvLSTM (encoder–forecaster)"), ("cnnlstm", "CNN-LSTM (per-step CNN, LSTM per pixel)")]
BASELINE_METHODS = [
    ("persistence", "Persistence (last value)"),
    ("climatology", "Seasonal climatology (hour of day / day of year / month)"),
    ("persisted_anomaly", "Persisted anomaly (climatology + last anomaly)"),
    ("exponential_smoothing", "Exponential smoothing per cell"),
]


FORECAST_LAYERS = {
    "OUTPUT": ("forecast", "Forecast"),
    "OUTPUT_LOWER": ("forecast 10 %", "Lower bound (10 % quantile) of the forecast"),
    "OUTPUT_UPPER": ("forecast 90 %", "Upper bound (90 % quantile) of the forecast"),
}


def present_forecasts(alg: StAlgorithm, context, result, outputs: dict[str, str | None], method: str) -> None:
    """Names, abstracts, one colour ramp (with the stack's units) shared by the forecast and its interval rasters,
    and band times."""
    summary = result.summary
    span = time_span_text(summary["times"])
    for key, path in outputs.items():
        suffix, what = FORECAST_LAYERS[key]
        alg.present(
            context,
            path,
            RasterResultPostProcessor,
            f"{alg.input_label()} {suffix} {span}",
            f"{what} of {alg.input_label()} by {method}, {len(summary['times'])} steps ({span}), one band each",
            value_range=(summary["value_min"], summary["value_max"]),
            units=summary.get("units"),
            **band_times(summary),
        )


class TrainRasterForecasterAlgorithm(StAlgorithm):
    ALG_ID = "trainrasterforecaster"
    TITLE = "Train raster forecaster"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Trains a deep-learning forecaster (ConvLSTM or CNN-LSTM, PyTorch; GPU when present) to predict the next "
        "HORIZON steps of a raster time stack from the last LOOKBACK steps, and tests it against baselines.\n\n"
        "Input: a stack with regular band times (from 'Build raster time stack'); no-data cells are masked. The "
        "time axis is split in order: training, then VALIDATION_FRACTION for early stopping, then TEST_FRACTION "
        "held out and used only to report errors. Inputs are normalised with training statistics; hour-of-day and "
        "day-of-year encodings are added.\n\n"
        "Outputs: OUTPUT_MODEL, a folder (config.json + weights.pt) for 'Forecast raster'; OUTPUT_REPORT, with loss "
        "curves, the test RMSE per horizon step of the model and of persistence, climatology, persisted anomaly and "
        "exponential smoothing, the skill 1 − RMSE_model / RMSE_best_baseline, the 80 % interval coverage and a map "
        "of errors. Progress is reported per epoch; Cancel stops training.\n\n"
        + BLEND_HELP
        + TIME_BUDGET_HELP
        + "Example: hourly 2 m temperature, LOOKBACK 12, HORIZON 6, EPOCHS 30."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_stack_input(self)
        add_choice(self, "MODEL_TYPE", "Model type", MODEL_TYPES, 0)
        add_training_parameters(self, horizon=6, test_fraction=0.1)
        add_device_parameter(self)
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_MODEL", "Trained model folder"))
        add_html_output(self, "OUTPUT_REPORT", "Training report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        model_folder = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        report = file_output(self, parameters, "OUTPUT_REPORT", context)
        request = {
            "input": stack_input(self, parameters, context),
            "output_model": model_folder,
            "output_report": report,
            "device": device_of(self, parameters, context),
            "config": {
                "architecture": choice_of(self, parameters, "MODEL_TYPE", context, MODEL_TYPES),
                **training_config(self, parameters, context),
            },
        }
        self.run_backend(request, [p for p in (model_folder, report) if p], feedback)  # logs test RMSE and skill
        return {"OUTPUT_MODEL": model_folder, "OUTPUT_REPORT": report}


class ForecastRasterAlgorithm(StAlgorithm):
    ALG_ID = "forecastraster"
    TITLE = "Forecast raster"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Forecasts the next steps of a raster time stack with a model from 'Train raster forecaster'.\n\n"
        "Input: the stack (same grid, CRS and time step as the training stack; its last LOOKBACK steps are the "
        "model's input — only they are read whole; the rest of the history is read chunk by chunk for each cell's "
        "last value) and the model folder.\n\n"
        "Outputs: OUTPUT, one band per future step with its time; OUTPUT_LOWER and OUTPUT_UPPER, the 10 % and 90 % "
        "quantiles (an 80 % prediction interval). Cells that never hold data stay no data.\n\n"
        "Example: the last 12 hourly temperature fields → the next 6 hours."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_stack_input(self)
        self.addParameter(
            QgsProcessingParameterFile("MODEL", "Trained model folder", behavior=QgsProcessingParameterFile.Folder)
        )
        add_device_parameter(self)
        self.addParameter(
            QgsProcessingParameterBoolean("RESAMPLE", "Resample onto the model grid when grids differ", False)
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Forecast"))
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "OUTPUT_LOWER", "Lower bound (10 % quantile)", optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "OUTPUT_UPPER", "Upper bound (90 % quantile)", optional=True, createByDefault=False
            )
        )
        add_memory_limit_parameter(self)
        add_scheduler_parameter(self)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        outputs = {
            name: self.parameterAsOutputLayer(parameters, name, context) or None
            for name in ("OUTPUT", "OUTPUT_LOWER", "OUTPUT_UPPER")
        }
        request = {
            "input": stack_input(self, parameters, context),
            "model": self.parameterAsFile(parameters, "MODEL", context),
            "device": device_of(self, parameters, context),
            "output": outputs["OUTPUT"],
            "resample": self.parameterAsBoolean(parameters, "RESAMPLE", context),
            "output_lower": outputs["OUTPUT_LOWER"],
            "output_upper": outputs["OUTPUT_UPPER"],
        }
        result = self.run_backend(request, [p for p in outputs.values() if p], feedback)
        present_forecasts(self, context, result, outputs, "the trained model")
        return outputs


class BaselineForecastAlgorithm(StAlgorithm):
    ALG_ID = "baselineforecast"
    TITLE = "Baseline forecast"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Forecasts the next HORIZON steps of a raster time stack with a simple reference method, fitted on the "
        "whole stack: persistence (last valid value per cell), seasonal climatology (mean by hour of day for "
        "sub-daily data, by day of year for daily data, by month otherwise), persisted anomaly (climatology + the "
        "last anomaly) or exponential smoothing per cell (smoothing constant chosen per cell).\n\n"
        "Output: one band per future step with its time. These are the baselines a trained forecaster must beat.\n\n"
        "Example: persistence of the last hourly temperature field for the next 6 hours."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_stack_input(self)
        add_choice(self, "METHOD", "Method", BASELINE_METHODS, 0)
        self.addParameter(
            QgsProcessingParameterNumber(
                "HORIZON", "Horizon (steps ahead)", QgsProcessingParameterNumber.Integer, 6, minValue=1
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Forecast"))
        add_memory_limit_parameter(self)
        add_scheduler_parameter(self)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        request = {
            "input": stack_input(self, parameters, context),
            "output": output,
            "method": choice_of(self, parameters, "METHOD", context, BASELINE_METHODS),
            "horizon": self.parameterAsInt(parameters, "HORIZON", context),
        }
        result = self.run_backend(request, [output], feedback)
        present_forecasts(
            self,
            context,
            result,
            {"OUTPUT": output},
            choice_of(self, parameters, "METHOD", context, BASELINE_METHODS).replace("_", " "),
        )
        return {"OUTPUT": output}
