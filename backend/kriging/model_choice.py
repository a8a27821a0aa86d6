"""Choosing the kriging model and neighbourhood by leave-one-station-out cross-validation.

The candidates are the space-time models fitted to one sample variogram and pure spatial kriging per time step
(fitted to the same sample's time-lag-0 bins), so the simple alternative is always in the race. Stage 1 scores
every model with :data:`DEFAULT_NMAX` neighbours; stage 2 tries the other neighbourhood sizes of
:data:`NMAX_CHOICES` for the best space-time model (all data only up to :data:`ALL_DATA_CV_LIMIT` observations)
and for the spatial one; stage 3, when the request leaves stAni to the model, scales the best space-time
candidate's neighbour-search anisotropy by :data:`ST_ANI_FACTORS`. Each candidate is cross-validated once. On
long records the CV predicts a sample of evenly spread time steps (at most :data:`CV_MAX_PREDICTIONS`
observations; every station's data are still used as neighbours). The candidate used is the simplest one
within one standard error of the lowest CV error (spatial before space-time, the model's own stAni before a
scaled one, then 50 neighbours, more, fewer): differences smaller than the station-to-station noise of the CV do
not carry over to unseen stations.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.data.point_panel import PointPanel
from backend.kriging.cross_validation import CrossValidation, cross_validate
from backend.kriging.kriging import DEFAULT_NMAX, KrigingOptions, default_st_ani
from backend.kriging.st_models import SpaceTimeModel
from backend.progress import Reporter

NMAX_CHOICES = (10, 20, 50, 100, None)  # None = all data
CV_MAX_PREDICTIONS = 20_000
ALL_DATA_CV_LIMIT = 2_000  # observations above which all-data space-time kriging is not a candidate
SPATIAL = "spatial per time step"
ST_ANI_FACTORS = (0.25, 4.0)  # scalings of the model's stAni tried in stage 3


@dataclass
class Candidate:
    """One model × neighbourhood size × neighbour-search anisotropy with its cross-validation metrics (``nmax``
    None = all data; ``st_ani`` None = the model's, else distance units per time unit)."""

    name: str
    model: SpaceTimeModel
    nmax: int | None
    cv: CrossValidation | None = None
    seconds: float = math.nan
    st_ani: float | None = None

    @property
    def rmse(self) -> float:
        return self.cv.metrics["rmse"] if self.cv is not None else math.nan

    @property
    def label(self) -> str:
        text = f"{self.name}, {'all data' if self.nmax is None else f'nmax {self.nmax}'}"
        return text if self.st_ani is None else f"{text}, stAni {self.st_ani:.4g}"


@dataclass
class ModelChoice:
    """The choice among ``candidates``: ``lowest`` has the smallest CV RMSE; ``best``, the one used, is the simplest
    candidate whose CV error is within one standard error of the lowest's (paired over the left-out stations:
    Breiman's one-standard-error rule); ``sampled`` = the CV predicted a sample of time steps."""

    best: Candidate
    lowest: Candidate
    candidates: list[Candidate]
    sampled: bool

    def table(self) -> pd.DataFrame:
        """One row per candidate, lowest RMSE first: model, nmax, stAni, RMSE, MAE, bias, mean z², within one SE,
        seconds."""
        rows = [
            {
                "model": c.name,
                "nmax": "all" if c.nmax is None else c.nmax,
                "stAni": "model's" if c.st_ani is None else c.st_ani,
                "RMSE": c.rmse,
                "MAE": c.cv.metrics["mae"],
                "bias": c.cv.metrics["bias"],
                "mean z²": c.cv.metrics.get("mean_z2", math.nan),
                "within 1 SE of the lowest": within_one_standard_error(self.lowest, c),
                "used": c is self.best,
                "predictions": c.cv.metrics["n"],
                "seconds": round(c.seconds, 1),
            }
            for c in sorted(self.candidates, key=lambda c: c.rmse)
        ]
        return pd.DataFrame(rows)

    def find(self, name: str, nmax: int | None) -> Candidate | None:
        """The candidate of model ``name`` (:data:`SPATIAL` for spatial kriging per time step) with ``nmax`` and the
        model's stAni."""
        return next((c for c in self.candidates if c.name == name and c.nmax == nmax and c.st_ani is None), None)

    def reason(self) -> str:
        """Why the winner won, in one sentence."""
        low = self.lowest
        text = f"{low.label} has the smallest leave-one-station-out RMSE ({low.rmse:.4g})"
        if self.best is not low:
            text += (
                f"; {self.best.label} ({self.best.rmse:.4g}) is within one standard error of it across the stations "
                "and simpler, so it is used"
            )
        else:
            ranked = sorted(self.candidates, key=lambda c: c.rmse)
            if len(ranked) > 1:
                runner = ranked[1]
                text += (
                    f" and no simpler candidate is within one standard error of it; next {runner.label} "
                    f"({runner.rmse:.4g}, {100 * (runner.rmse / low.rmse - 1):.1f} % more)"
                )
        return text + "."


def within_one_standard_error(lowest: Candidate, other: Candidate) -> bool:
    """Whether ``other``'s mean squared CV error exceeds ``lowest``'s by at most one standard error of the mean
    difference over the stations both predicted (paired)."""
    if other is lowest:
        return True
    a = lowest.cv.per_station.set_index("station_id")["rmse"] ** 2
    b = other.cv.per_station.set_index("station_id")["rmse"] ** 2
    difference = (b - a).dropna()
    if difference.size < 3:
        return False
    return bool(difference.mean() <= difference.std(ddof=1) / math.sqrt(difference.size))


def simplicity(candidate: Candidate) -> tuple:
    """Sort key, simplest first: spatial kriging per time step before space-time models, the model's stAni before
    a scaled one, then the default neighbourhood size, larger ones (smoother), smaller ones; ties by CV error."""
    size = math.inf if candidate.nmax is None else candidate.nmax
    order = 0 if size == DEFAULT_NMAX else 1 if size > DEFAULT_NMAX else 2
    return (0 if candidate.model.is_spatial_only else 1, candidate.st_ani is not None, order, candidate.rmse)


def cv_steps(panel: PointPanel, limit: int = CV_MAX_PREDICTIONS) -> np.ndarray | None:
    """Evenly spread time indices holding about ``limit`` observations, or None when all of them fit."""
    per_step = np.isfinite(panel.values).sum(axis=0)
    if per_step.sum() <= limit:
        return None
    count = max(2, int(panel.times.size * limit / per_step.sum()))
    return np.unique(np.linspace(0, panel.times.size - 1, count).round().astype(np.int64))


def _cross_validate(panel: PointPanel, candidate: Candidate, options: KrigingOptions, steps) -> Candidate:
    started = time.perf_counter()
    settings = dataclasses.replace(options, nmax=candidate.nmax, st_ani=candidate.st_ani or options.st_ani)
    candidate.cv = cross_validate(panel, candidate.model, settings, None, steps)
    candidate.seconds = time.perf_counter() - started
    return candidate


def choose_by_cv(
    panel: PointPanel,
    models: list[SpaceTimeModel],
    options: KrigingOptions | None = None,
    nmax_choices: tuple = NMAX_CHOICES,
    reporter: Reporter | None = None,
) -> ModelChoice:
    """Rank ``models`` (metric panel units; spatial-only ones, :meth:`SpaceTimeModel.spatial_only`, as spatial
    kriging per time step) by leave-one-station-out RMSE, choosing the neighbourhood size among ``nmax_choices`` (a
    single entry: that size for all) and, when ``options.st_ani`` is None, the neighbour-search anisotropy of the
    best space-time candidate among the model's and :data:`ST_ANI_FACTORS` times it. ``options`` give the other
    kriging settings (stAni, mean)."""
    reporter = reporter or Reporter()
    options = options or KrigingOptions()
    steps = cv_steps(panel)
    observations = int(np.isfinite(panel.values).sum())
    stations = panel.n_stations
    first = DEFAULT_NMAX if DEFAULT_NMAX in nmax_choices else nmax_choices[0]
    if first is None and observations > ALL_DATA_CV_LIMIT:  # one all-data system per left-out station: too slow
        first = DEFAULT_NMAX
        reporter.log(
            f"{observations} observations: the models are ranked with {DEFAULT_NMAX} neighbours (all-data kriging "
            f"of each left-out station is cross-validated up to {ALL_DATA_CV_LIMIT} observations)."
        )

    def candidates_for(finalist: Candidate, sizes) -> list[Candidate]:
        spatial_only = finalist.model.is_spatial_only
        limit = stations - 1 if spatial_only else observations
        usable = []
        for nmax in sizes:
            if nmax is None and not spatial_only and observations > ALL_DATA_CV_LIMIT:
                continue  # one all-data system per left-out station: too slow to rank (and large)
            if nmax is not None and nmax >= limit and None in sizes:
                continue  # the same as all data
            usable.append(Candidate(finalist.name, finalist.model, nmax))
        return usable

    stage_one = [Candidate(SPATIAL if m.is_spatial_only else m.stModel, m, first) for m in models]
    done: list[Candidate] = []
    total = len(stage_one) + 2 * (len(nmax_choices) - 1) + len(ST_ANI_FACTORS)
    for candidate in stage_one:
        done.append(_cross_validate(panel, candidate, options, steps))
        reporter.progress(100.0 * len(done) / total, f"CV {candidate.label}: RMSE {candidate.rmse:.4g}")
    others = tuple(n for n in nmax_choices if n != first)
    space_time = [c for c in done if not c.model.is_spatial_only]
    finalists = ([min(space_time, key=lambda c: c.rmse)] if space_time else []) + [
        c for c in done if c.model.is_spatial_only
    ]
    for finalist in finalists:
        for candidate in candidates_for(finalist, others):
            done.append(_cross_validate(panel, candidate, options, steps))
            reporter.progress(100.0 * len(done) / total, f"CV {candidate.label}: RMSE {candidate.rmse:.4g}")
    searched = [c for c in done if not c.model.is_spatial_only and c.nmax is not None and np.isfinite(c.rmse)]
    if options.st_ani is None and searched:  # all-data kriging has no neighbour search to scale
        finalist = min(searched, key=lambda c: c.rmse)
        for factor in ST_ANI_FACTORS:
            scaled = factor * default_st_ani(finalist.model)
            candidate = Candidate(finalist.name, finalist.model, finalist.nmax, st_ani=scaled)
            done.append(_cross_validate(panel, candidate, options, steps))
            reporter.progress(100.0 * len(done) / total, f"CV {candidate.label}: RMSE {candidate.rmse:.4g}")
    valid = [c for c in done if np.isfinite(c.rmse)] or done
    lowest = min(valid, key=lambda c: c.rmse)
    best = min((c for c in valid if within_one_standard_error(lowest, c)), key=simplicity)
    return ModelChoice(best, lowest, done, steps is not None)
