"""Steps shared by the kriging commands: metric panel, automatic variogram fit, model loading."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist

from backend.data.point_panel import PointPanel, to_metric
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.kriging.cross_validation import fit_spatial_variogram
from backend.kriging.fitting import FitResult, fit_model, initial_model
from backend.kriging.kriging import ALL_DATA, KrigingOptions, requested_nmax
from backend.kriging.model_choice import NMAX_CHOICES, ModelChoice, choose_by_cv
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
    choice: ModelChoice | None = None  # the cross-validation ranking ('best_cv')


def fit_variogram(
    panel: PointPanel,
    model: str = "best",
    basic_model: str = "Exp",
    fit_method: int = 6,
    cutoff: float | None = None,
    width: float | None = None,
    tlags: int = 6,
    reporter: Reporter | None = None,
    nmax_choices: tuple = NMAX_CHOICES,
    options: KrigingOptions | None = None,
) -> VariogramFit:
    """Sample variogram of a metric panel and the fitted model(s); distances in m, time in days. 'best_cv' ranks
    the fitted models and pure spatial kriging per time step by leave-one-station-out CV with the kriging
    ``options`` (stAni, mean), the neighbourhood size among ``nmax_choices`` (see
    :mod:`backend.kriging.model_choice`)."""
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
        reporter=reporter.scaled(0, 10 if model == "best_cv" else 30),
    )
    kinds = ST_MODELS if model in SELECTIONS else (model,)
    if model not in SELECTIONS and model not in ST_MODELS:
        raise UserInputError(f"Unknown model {model!r}; use one of {', '.join(SELECTIONS + ST_MODELS)}.")
    fits = []
    fitting = reporter.scaled(10, 20) if model == "best_cv" else reporter.scaled(30, 100)
    for i, kind in enumerate(kinds):
        fits.append(fit_model(sample, initial_model(kind, sample, basic_model, time_unit=time_unit), fit_method))
        fitting.progress(100 * (i + 1) / len(kinds), f"fitted {kind}: MSE {fits[-1].mse:.4g}")
    if model != "best_cv":
        best = min(fits, key=lambda f: f.mse)
        if not best.converged:
            reporter.warning(f"The {best.model.stModel} fit did not fully converge ({best.message}); check the report.")
        return VariogramFit(sample, best, fits)
    spatial = SpaceTimeModel.spatial_only(fit_spatial_variogram(panel, cutoff, width), time_unit)
    choice = choose_by_cv(panel, [f.model for f in fits] + [spatial], options, nmax_choices, reporter.scaled(20, 100))
    for fit in fits:
        scored = [c for c in choice.candidates if c.model is fit.model]
        fit.model.fit["cv_rmse"] = min(c.rmse for c in scored)
    winner = choice.best
    best = next((f for f in fits if f.model is winner.model), None)
    if best is None:  # pure spatial kriging per time step won
        best = FitResult(
            winner.model,
            float(np.mean((winner.model.gamma(sample.dist, sample.timelag) - sample.gamma) ** 2)),
            float("nan"),
            True,
            "fitted to the time-lag-0 bins",
        )
        winner.model.fit["method"] = "spatial variogram of the time-lag-0 bins"
    best.model.fit.update(
        cv_rmse=winner.rmse, cv_nmax=ALL_DATA if winner.nmax is None else winner.nmax, cv_choice=choice.reason()
    )
    if winner.st_ani is not None:
        best.model.fit["cv_st_ani"] = winner.st_ani
    reporter.log(f"Chosen by cross-validation: {choice.reason()}")
    if not best.converged:
        reporter.warning(f"The {best.model.stModel} fit did not fully converge ({best.message}); check the report.")
    return VariogramFit(sample, best, fits, choice)


CHOOSE_NMAX = 0  # a request's nmax that asks for the choice by cross-validation


def model_for(
    panel: PointPanel,
    model_file: str | None,
    options: KrigingOptions,
    reporter: Reporter,
    nmax_choices: tuple = NMAX_CHOICES,
) -> tuple[SpaceTimeModel, KrigingOptions, ModelChoice | None]:
    """The model from a JSON file, or fitted automatically and chosen by leave-one-station-out CV together with pure
    spatial kriging per time step; and the kriging options with the neighbourhood size resolved (``options.nmax``
    :data:`CHOOSE_NMAX` = by CV: the model file's own choice when it records one) and the neighbour-search stAni
    chosen with it when the request leaves it to the model."""
    choose = options.nmax == CHOOSE_NMAX
    choice = None
    if model_file:
        model = SpaceTimeModel.load(model_file)
        reporter.log(f"Model from {model_file}: {model.describe()}")
        st_ani = None
        if choose and "cv_nmax" in model.fit:
            nmax = requested_nmax(model.fit["cv_nmax"])  # recorded as requests give it (−1 = all data)
            st_ani = model.fit.get("cv_st_ani")
            reporter.log(f"Neighbourhood size from the model file's cross-validation: {nmax or 'all data'}.")
        elif choose:
            choice = choose_by_cv(panel, [model], options, nmax_choices, reporter)
            nmax, st_ani = choice.best.nmax, choice.best.st_ani
            reporter.log(f"Neighbourhood chosen by cross-validation: {choice.reason()}")
        else:
            nmax = options.nmax
    else:
        sizes = nmax_choices if choose else (options.nmax,)
        fit = fit_variogram(panel, model="best_cv", reporter=reporter, nmax_choices=sizes, options=options)
        model, choice = fit.best.model, fit.choice
        nmax = choice.best.nmax if choose else options.nmax  # a size the request fixed is kept
        st_ani = choice.best.st_ani
        reporter.log(f"No model file given; fitted automatically: {model.describe()}.")
    if options.st_ani is None and st_ani is not None:
        reporter.log(f"Neighbour search with stAni {st_ani:.4g} (chosen by cross-validation).")
        options = dataclasses.replace(options, st_ani=float(st_ani))
    return model, dataclasses.replace(options, nmax=nmax), choice
