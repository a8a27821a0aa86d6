"""Steps shared by the kriging commands: metric panel, automatic variogram fit, model loading."""

from __future__ import annotations

from dataclasses import dataclass

from scipy.spatial.distance import pdist

from backend.data.point_panel import PointPanel, to_metric
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.kriging.fitting import FitResult, fit_model, initial_model
from backend.kriging.sample_variogram import SampleVariogram, check_kriging_data, sample_variogram
from backend.kriging.st_models import ST_MODELS, TIME_UNIT_SECONDS, SpaceTimeModel
from backend.progress import Reporter


def kriging_panel(panel: PointPanel, reporter: Reporter) -> PointPanel:
    """Checks for kriging (≥ 3 stations, ≥ 2 times, values not constant) and metric coordinates."""
    check_kriging_data(panel)
    metric = to_metric(panel)
    if metric is not panel:
        reporter.warning(
            "The layer has geographic coordinates; distances are computed in the UTM zone of the stations."
        )
    return metric


SELECTIONS = ("best", "best_cv")  # smallest fit error; smallest leave-one-station-out RMSE (nmax 50)


def time_unit_for(step: TimeStep) -> str:
    """Model time unit for data at this step: month for calendar steps (months, quarters, years), else min
    below 1 h, hour below 1 day, day."""
    if step.is_calendar:
        return "month"
    return "min" if step.seconds < 3600 else "hour" if step.seconds < 86400 else "day"


@dataclass
class VariogramFit:
    sample: SampleVariogram
    best: FitResult
    all_fits: list[FitResult]


def fit_variogram(
    panel: PointPanel,
    model: str = "best",
    basic_model: str = "Exp",
    fit_method: int = 6,
    cutoff: float | None = None,
    width: float | None = None,
    tlags: int = 6,
    reporter: Reporter | None = None,
) -> VariogramFit:
    """Sample variogram of a metric panel and the fitted model(s); distances in m, time in days."""
    reporter = reporter or Reporter()
    regular, step = panel.on_regular_axis()
    if cutoff is None:
        cutoff = float(pdist(panel.xy).max()) / 3.0
    width = width or cutoff / 15.0
    time_unit = time_unit_for(step)
    sample = sample_variogram(
        regular,
        cutoff,
        width,
        tlags,
        step.nominal_seconds,
        time_scale=TIME_UNIT_SECONDS[time_unit],
        reporter=reporter.scaled(0, 30),
    )
    kinds = ST_MODELS if model in SELECTIONS else (model,)
    if model not in SELECTIONS and model not in ST_MODELS:
        raise UserInputError(f"Unknown model {model!r}; use one of {', '.join(SELECTIONS + ST_MODELS)}.")
    fits = []
    for i, kind in enumerate(kinds):
        fits.append(fit_model(sample, initial_model(kind, sample, basic_model, time_unit=time_unit), fit_method))
        reporter.progress(30 + 70 * (i + 1) / len(kinds), f"fitted {kind}: MSE {fits[-1].mse:.4g}")
    if model == "best_cv":
        from backend.kriging.cross_validation import leave_one_station_out
        from backend.kriging.kriging import KrigingOptions

        for fit in fits:
            cv = leave_one_station_out(panel, fit.model, KrigingOptions())
            fit.model.fit["cv_rmse"] = cv.metrics["rmse"]
            reporter.log(f"{fit.model.stModel}: leave-one-station-out RMSE {cv.metrics['rmse']:.4g}")
        best = min(fits, key=lambda f: f.model.fit["cv_rmse"])
    else:
        best = min(fits, key=lambda f: f.mse)
    if not best.converged:
        reporter.warning(f"The {best.model.stModel} fit did not fully converge ({best.message}); check the report.")
    return VariogramFit(sample, best, fits)


def model_for(panel: PointPanel, model_file: str | None, reporter: Reporter) -> SpaceTimeModel:
    """The model from a JSON file, or one fitted automatically with default bins."""
    if model_file:
        model = SpaceTimeModel.load(model_file)
        reporter.log(f"Model from {model_file}: {model.describe()}")
        return model
    fit = fit_variogram(panel, model="best_cv", reporter=reporter.scaled(0, 20))
    reporter.log(
        f"No model file given; fitted automatically and chosen by cross-validation: "
        f"{fit.best.model.describe()} (CV RMSE {fit.best.model.fit['cv_rmse']:.4g})."
    )
    return fit.best.model
