"""One classical forecasting model per location: ARIMA and exponential smoothing (statsforecast's AutoARIMA and
AutoETS), curve fit (linear, parabolic, exponential, Gompertz), a random forest on lags, season and calendar
features (scikit-learn) and seasonal naive; or, with ``best``, each of them fitted on all but the last validation
steps, scored there, and the one of smallest validation RMSE refitted on the whole series per location.

Engines take arrays: ``values`` float64[N, T] on a regular time axis (NaN = missing), ``times`` datetime64[T].
Each location's series is cut to its first … last observed value and its interior gaps are linearly interpolated
(the models need complete series); a series that ends early is forecast from its own end on, over its trailing
gap and the horizon. Scores use observed values only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backend.data.time_axis import filled_series
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.progress import Reporter

METHODS = ("best", "arima", "ets", "curve", "forest", "seasonal_naive", "combination")  # METHOD choices, in order
MEMBERS = ("arima", "ets", "curve", "forest", "seasonal_naive")  # the single models; "combination" is their mean
CANDIDATES = (*MEMBERS, "combination")  # what ``best`` chooses among
OVERRIDE_STANDARD_ERRORS = 2.0  # how clearly a location's own best must beat the pooled choice (choose_methods)
MIN_VALUES = 8  # observed values a location needs to be fitted (after the validation steps, for ``best``)
MAX_MODEL_SEASON = 24  # longer seasons: ARIMA and ETS without a seasonal part (statsforecast's ETS limit)
SEASON_ALPHA = 0.01  # false-season rate of the periodogram test on white noise
CURVES = ("linear", "parabolic", "exponential", "gompertz")
PROCESS_MIN_LOCATIONS = 16  # locations per worker process below which fitting stays in this process


@dataclass
class SeriesForecast:
    """Forecasts of one series: ``mean``, ``lower``, ``upper`` float64[h] and what was fitted (``detail``)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    detail: str = ""


@dataclass
class LocationForecasts:
    """Forecasts float64[N, H] of every location (NaN where a location could not be fitted) and the evaluation.

    ``method``: str[N] the method used ("" = none); ``detail``: str[N] the fitted model; ``season_length``:
    int[N]; ``validation_rmse``: method → float64[N] (NaN = not tried or failed); ``validation_errors``: method →
    float64[N, V] forecast − observed over the validation steps (NaN = not observed); ``validation_covered``:
    float64[N, V] whether the chosen method's interval held the observed value (1/0, NaN = not observed);
    ``failures``: method → number of locations it failed on."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: np.ndarray
    detail: np.ndarray
    season_length: np.ndarray
    validation_rmse: dict[str, np.ndarray] = field(default_factory=dict)
    validation_errors: dict[str, np.ndarray] = field(default_factory=dict)
    validation_covered: np.ndarray | None = None
    failures: dict[str, int] = field(default_factory=dict)


def detect_season(series: np.ndarray, step: TimeStep, alpha: float = SEASON_ALPHA) -> int:
    """Season length (steps) of one series from its periodogram (linear trend removed), 1 = no season.

    A calendar period of the time step (:func:`calendar_periods`: 7 days, 24 hours, 12 months …) with at least
    three cycles in the series is a season when the periodogram at its frequency (±1 bin) exceeds the mean power
    by the factor an exponential (noise) ordinate exceeds with probability ``alpha`` (3 bins tested); any other
    period when the strongest peak passes the same test with every bin counted (Bonferroni). The strongest
    passing one wins."""
    from scipy.signal import periodogram

    y, _, _ = filled_series(series)
    if y.size < 12 or np.ptp(y) == 0:
        return 1
    freq, power = periodogram(y, detrend="linear")
    freq, power = freq[1:], power[1:]
    mean = float(power.mean())
    if not mean > 0:
        return 1
    ratio = power / mean
    usable = freq >= 3.0 / y.size  # three cycles at least
    found = {}
    for period in calendar_periods(step):
        if 3 * period <= y.size:
            near = np.abs(np.arange(freq.size) - np.argmin(np.abs(freq - 1.0 / period))) <= 1
            strength = float(ratio[near].max())
            if strength > math.log(3 / alpha):
                found[period] = strength
    if usable.any():
        peak = np.flatnonzero(usable)[np.argmax(ratio[usable])]
        if ratio[peak] > math.log(usable.sum() / alpha):
            found.setdefault(max(2, int(round(1.0 / freq[peak]))), float(ratio[peak]))
    return max(found, key=found.get) if found else 1


def calendar_periods(step: TimeStep) -> list[int]:
    """Seasons a time step suggests, in steps: hours → day and week; days → week and year; months → year …"""
    seconds = step.nominal_seconds
    periods = [86400 / seconds, 7 * 86400 / seconds, 365.25 * 86400 / seconds]
    return [int(round(p)) for p in periods if p >= 2 and abs(p - round(p)) < 0.05]


def location_calendar(times: np.ndarray, step: TimeStep, history_seconds: float | None = None) -> np.ndarray:
    """float64[T, F]: the sine and cosine of the time of day, the day of the week and the time of year of each time
    (:func:`backend.forecast.windows.calendar_features`), each kept only where the step is shorter than its cycle
    and the history (``history_seconds``, default the span of ``times``) covers two cycles: a cycle seen once is a
    time index in disguise, and forests extrapolate it wildly."""
    from backend.forecast.windows import calendar_features

    history = float((times[-1] - times[0]) / np.timedelta64(1, "s")) if history_seconds is None else history_seconds
    everything = calendar_features(times, step).astype(np.float64)
    keep = [
        column
        for columns, period in (((0, 1), 86400.0), ((2, 3), 7 * 86400.0), ((4, 5), 365.2425 * 86400.0))
        if step.nominal_seconds < period and history >= 2 * period
        for column in columns
    ]
    return everything[:, keep]


def _normal_quantile(interval: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + interval / 2))


def statsforecast_models():
    """statsforecast's model module, or a clear error where the backend environment lacks it."""
    try:
        from statsforecast import models
    except ImportError:
        raise UserInputError(
            "ARIMA, exponential smoothing and seasonal naive per location need the Python package statsforecast; "
            "run 'Set up backend' (Processing toolbox › st_analyzer) to install it, or: pip install statsforecast."
        ) from None
    return models


def _statsforecast(model, y: np.ndarray, h: int, interval: float) -> SeriesForecast:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(y)
        level = round(100 * interval, 6)
        out = fitted.predict(h=h, level=[int(level) if level == int(level) else level])
    mean = np.asarray(out["mean"], dtype=np.float64)
    lower = np.asarray(next(v for k, v in out.items() if k.startswith("lo-")), dtype=np.float64)
    upper = np.asarray(next(v for k, v in out.items() if k.startswith("hi-")), dtype=np.float64)
    if not np.isfinite(mean).all():
        raise ValueError("non-finite forecast")
    return SeriesForecast(mean, lower, upper, _describe(fitted))


def _describe(fitted) -> str:
    model = getattr(fitted, "model_", None)
    if isinstance(model, dict):
        if "arma" in model:  # statsforecast's ARIMA: p, q, P, Q, m, d, D
            p, q, sp, sq, m, d, sd = (int(v) for v in model["arma"][:7])
            return f"ARIMA({p},{d},{q})" + (f"({sp},{sd},{sq})[{m}]" if m > 1 and (sp or sd or sq) else "")
        if "method" in model:
            return str(model["method"])
    return type(fitted).__name__


def fit_arima(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """statsforecast AutoARIMA (stepwise order search; seasonal when ``season`` > 1); estimated by CSS-ML, and by
    ML, then CSS, where that search breaks down (non-finite parameters on some series). As R's
    ``forecast::auto.arima``, series of more than 150 steps (or seasons over 12) search the orders on conditional
    sums of squares and re-fit only the best models by full likelihood (about 4× faster on a year of days)."""
    AutoARIMA = statsforecast_models().AutoARIMA  # noqa: N806 (a class)

    m = season if 1 < season <= MAX_MODEL_SEASON and y.size >= 2 * season + 4 else 1
    for estimation in (None, "ML"):  # None: CSS-ML, the search on CSS where it is approximated
        try:
            return _statsforecast(AutoARIMA(season_length=m, method=estimation, approximation=None), y, h, interval)
        except (np.linalg.LinAlgError, ValueError):
            pass
    return _statsforecast(AutoARIMA(season_length=m, method="CSS", approximation=None), y, h, interval)


def fit_ets(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """statsforecast AutoETS (error, trend and season chosen by AICc; a trend only damped: undamped trends run
    away over weeks; seasonal when ``season`` > 1)."""
    AutoETS = statsforecast_models().AutoETS  # noqa: N806 (a class)

    m = season if 1 < season <= MAX_MODEL_SEASON and y.size >= 2 * season + 4 else 1
    return _statsforecast(AutoETS(season_length=m, damped=True), y, h, interval)


def fit_seasonal_naive(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """The value one season earlier (the last value without a season); interval from the seasonal differences."""
    models = statsforecast_models()
    model = models.SeasonalNaive(season_length=season) if 1 < season < y.size else models.Naive()
    result = _statsforecast(model, y, h, interval)
    result.detail = f"seasonal naive [{season}]" if 1 < season < y.size else "naive"
    return result


def _curve(kind: str, t: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """The least-squares curve of ``kind`` through (t, y), or None where it does not apply (exponential and
    Gompertz need positive values) or the fit fails."""
    if kind in ("linear", "parabolic"):
        coefficients = np.polyfit(t, y, 1 if kind == "linear" else 2)
        return lambda x: np.polyval(coefficients, x)
    if (y <= 0).any():
        return None
    if kind == "exponential":  # y = a·exp(b·t), fitted on log y
        b, log_a = np.polyfit(t, np.log(y), 1)
        return lambda x: np.exp(log_a + b * x)
    from scipy.optimize import curve_fit

    def gompertz(x, a, b, c):
        return a * np.exp(-b * np.exp(-c * x))

    top = float(y.max())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (a, b, c), _ = curve_fit(
                gompertz, t, y, p0=(1.5 * top, 1.0, 1.0 / max(t.max(), 1.0)), bounds=(0, np.inf), maxfev=2000
            )
    except (RuntimeError, ValueError):
        return None
    return lambda x: gompertz(x, a, b, c)


def fit_curve(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """The curve (linear, parabolic, exponential, Gompertz) with the smallest error on the series' last
    max(1, min(h, n/5)) values when fitted without them, refitted on all; interval ± z·residual standard
    deviation."""
    n = y.size
    t = np.arange(n, dtype=np.float64) / n  # scaled time keeps the polynomial and Gompertz fits well conditioned
    hold = max(1, min(h, n // 5))
    scores = {}
    for kind in CURVES:
        curve = _curve(kind, t[:-hold], y[:-hold])
        if curve is not None:
            error = curve(t[-hold:]) - y[-hold:]
            if np.isfinite(error).all():
                scores[kind] = float(np.mean(error**2))
    for kind in sorted(scores, key=scores.get):
        curve = _curve(kind, t, y)
        if curve is None:
            continue
        future = curve(np.arange(n, n + h, dtype=np.float64) / n)
        residual = y - curve(t)
        if not (np.isfinite(future).all() and np.isfinite(residual).all()):
            continue
        width = _normal_quantile(interval) * float(np.std(residual, ddof=min(n - 1, 3 if kind == "gompertz" else 2)))
        return SeriesForecast(future, future - width, future + width, kind)
    raise ValueError("no curve could be fitted")


FOREST_TREES = 100


def fit_forest(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """Random forest (scikit-learn) on the series: the last max(season, 3) values (at most a third of the series),
    the position in the season and the calendar features (``calendar`` float[n + h, F]: the rows of the series'
    times and of the forecast times); forecast step by step. Not detrended: a trend line extrapolated over the
    horizon made it worse on the PM10 development years (the curve fit and ARIMA carry trends). Interval ± z·σ_h
    with σ_h the out-of-bag one-step residual deviation × √h, at most the deviation of the series."""
    from sklearn.ensemble import RandomForestRegressor

    n = y.size
    lags = int(min(max(season, 3), max(1, n // 3)))
    level = float(np.mean(y))
    r = y - level

    def features(history: np.ndarray, at: np.ndarray) -> np.ndarray:
        lagged = np.column_stack([history[at - lag] for lag in range(1, lags + 1)])
        extra = [calendar[at]]
        if season > 1:
            angle = 2 * np.pi * (at % season) / season
            extra += [np.sin(angle)[:, None], np.cos(angle)[:, None]]
        return np.column_stack([lagged, *extra])

    rows = np.arange(lags, n)
    if rows.size < 5:
        raise ValueError("too short for lagged features")
    forest = RandomForestRegressor(
        n_estimators=FOREST_TREES, min_samples_leaf=2, max_features=0.5, oob_score=True, random_state=0, n_jobs=1
    )
    forest.fit(features(r, rows), r[rows])
    history = np.concatenate([r, np.zeros(h)])
    for step in range(n, n + h):
        history[step] = forest.predict(features(history, np.array([step])))[0]
    mean = history[n:] + level
    one_step = float(np.sqrt(np.mean((forest.oob_prediction_ - r[rows]) ** 2)))
    sigma = np.minimum(one_step * np.sqrt(np.arange(1, h + 1)), max(float(np.std(r)), one_step))
    width = _normal_quantile(interval) * sigma
    return SeriesForecast(mean, mean - width, mean + width, f"forest, {lags} lags")


def combine(forecasts: list[SeriesForecast]) -> SeriesForecast:
    """The mean of several forecasts (and of their bounds): a forecast combination."""
    if not forecasts:
        raise ValueError("no member forecast to combine")
    return SeriesForecast(
        np.mean([f.mean for f in forecasts], axis=0),
        np.mean([f.lower for f in forecasts], axis=0),
        np.mean([f.upper for f in forecasts], axis=0),
        f"mean of {len(forecasts)}: " + ", ".join(f.detail for f in forecasts),
    )


def fit_combination(y: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray) -> SeriesForecast:
    """The mean of the forecasts of :data:`MEMBERS` that fit (bounds: the mean of theirs). Combinations were the
    steadiest on the PM10 development years (2005, 2006), where every single model failed badly in one of them."""
    members = []
    for name in MEMBERS:
        try:
            members.append(FITTERS[name](y, h, season, interval, calendar))
        except UserInputError:
            raise
        except Exception:  # noqa: BLE001 — a member that fails is left out of the mean
            continue
    return combine(members)


FITTERS: dict[str, Callable[..., SeriesForecast]] = {
    "arima": fit_arima,
    "ets": fit_ets,
    "curve": fit_curve,
    "forest": fit_forest,
    "seasonal_naive": fit_seasonal_naive,
    "combination": fit_combination,
}


def forecast_series(
    method: str, series: np.ndarray, h: int, season: int, interval: float, calendar: np.ndarray
) -> SeriesForecast | None:
    """``method``'s forecast of the ``h`` steps after the end of ``series`` float[T] (NaN = missing; the model is
    fitted from the first to the last observed value; forecasts and bounds of a series never below 0 are kept at or
    above 0); ``calendar`` float[T + h, F]. None when too short."""
    y, first, trailing = filled_series(series)
    if np.isfinite(series).sum() < MIN_VALUES:
        return None
    steps = trailing + h
    rows = calendar[first : series.size - trailing + steps]
    forecast = FITTERS[method](y, steps, season, interval, rows)
    keep = slice(trailing, None)
    parts = [forecast.mean[keep], forecast.lower[keep], forecast.upper[keep]]
    if y.min() >= 0:  # a quantity never observed below 0 (concentrations, counts) is not forecast below 0
        parts = [np.maximum(part, 0.0) for part in parts]
    return SeriesForecast(*parts, forecast.detail)


def forecast_locations(
    values: np.ndarray,
    times: np.ndarray,
    step: TimeStep,
    horizon: int,
    method: str = "best",
    validation_steps: int = 0,
    season_length: int = 0,
    interval: float = 0.9,
    reporter: Reporter | None = None,
    workers: int = 0,
) -> LocationForecasts:
    """Forecasts of the ``horizon`` steps after ``times[-1]`` for each location of ``values`` float[N, T] on the
    regular axis ``times`` datetime64[T] with step ``step``.

    ``method``: one of :data:`METHODS`. ``validation_steps`` V: the last V steps are held out, every tried method
    (all :data:`CANDIDATES` for ``best``, else ``method``) is fitted on the steps before them and scored there;
    ``best`` then uses each location's method of smallest validation RMSE, refitted on all steps.
    ``season_length`` 0 = detected per location (:func:`detect_season`). ``interval``: central coverage of the
    lower/upper bounds. A method that fails at a location is replaced there by the next best, seasonal naive last
    (counted in ``failures``). ``workers``: processes fitting locations at once (0 = all cores, 1 = this one)."""
    from backend.forecast.windows import future_times

    reporter = reporter or Reporter()
    if method not in METHODS:
        raise UserInputError(f"Unknown method {method!r}; use one of {', '.join(METHODS)}.")
    if horizon < 1:
        raise UserInputError("The horizon must be at least 1 step.")
    if not 0 < interval < 1:
        raise UserInputError("The interval coverage must be between 0 and 1 (e.g. 0.9).")
    n, t = values.shape
    if method == "best" and validation_steps < 1:
        raise UserInputError("Choosing the best method per location needs VALIDATION_STEPS of at least 1.")
    if validation_steps < 0 or t - validation_steps < MIN_VALUES:
        raise UserInputError(
            f"{t} time steps leave {t - validation_steps} to fit after {validation_steps} validation steps; "
            f"at least {MIN_VALUES} are needed. Use fewer VALIDATION_STEPS."
        )
    tried = CANDIDATES if method == "best" else (method,)
    future = future_times(times[-1], step, max(horizon, 1))
    history = float((times[-1] - times[0]) / np.timedelta64(1, "s")) if t else 0.0
    calendar = location_calendar(np.concatenate([times, future]), step, history)
    seasons = (
        np.array([season_length or detect_season(series, step) for series in values], dtype=np.int64)
        if n
        else np.zeros(0, np.int64)
    )
    result = LocationForecasts(
        mean=np.full((n, horizon), np.nan),
        lower=np.full((n, horizon), np.nan),
        upper=np.full((n, horizon), np.nan),
        method=np.full(n, "", dtype=object),
        detail=np.full(n, "", dtype=object),
        season_length=seasons,
        failures={m: 0 for m in tried},
    )
    v = validation_steps
    if v:
        result.validation_errors = {m: np.full((n, v), np.nan) for m in tried}
        result.validation_rmse = {m: np.full(n, np.nan) for m in tried}
        result.validation_covered = np.full((n, v), np.nan)
    fits = []
    if v:  # pass 1: every tried method fitted before the validation steps and scored on them
        jobs = [(series[: t - v], int(seasons[i]), tried, v, interval, calendar[:t]) for i, series in enumerate(values)]
        progress = reporter.scaled(0, 60)
        for i, fitted in enumerate(_map_locations(_fit_methods, jobs, workers)):
            observed = values[i, t - v :]
            for name in tried:
                if fitted.get(name) is None:
                    result.failures[name] += name in fitted  # None = failed; absent = too short
                    continue
                error = np.where(np.isfinite(observed), fitted[name].mean - observed, np.nan)
                result.validation_errors[name][i] = error
                if np.isfinite(error).any():
                    result.validation_rmse[name][i] = math.sqrt(np.nanmean(error**2))
            fits.append(fitted)
            progress.progress(100.0 * (i + 1) / n, f"validation: {i + 1} of {n} locations")
    order = choose_methods(result.validation_errors, tried) if v else [list(tried)] * n
    jobs = [(series, int(seasons[i]), order[i], horizon, interval, calendar) for i, series in enumerate(values)]
    progress = reporter.scaled(60 if v else 0, 100)
    for i, (name, final, failed) in enumerate(_map_locations(_fit_first, jobs, workers)):  # pass 2: whole series
        for method in failed:
            result.failures[method] = result.failures.get(method, 0) + 1
        if final is not None:
            result.mean[i], result.lower[i], result.upper[i] = final.mean, final.lower, final.upper
            result.method[i], result.detail[i] = name, final.detail
            if v and fits[i].get(name) is not None:
                observed = values[i, t - v :]
                inside = (observed >= fits[i][name].lower) & (observed <= fits[i][name].upper)
                result.validation_covered[i] = np.where(np.isfinite(observed), inside, np.nan)
        progress.progress(100.0 * (i + 1) / n, f"{i + 1} of {n} locations")
    return result


def choose_methods(errors: dict[str, np.ndarray], tried: tuple[str, ...]) -> list[list[str]]:
    """Per location, the methods in the order to use them (the next on failure): first the method of smallest
    validation RMSE pooled over all locations, unless the location's own best beats it there by more than
    :data:`OVERRIDE_STANDARD_ERRORS` standard errors of their paired squared-error difference over its validation
    steps (one short validation window per location picks noise: choosing each location's own best was worse on
    held-out weeks of the PM10 development years than the pooled choice); then the rest by the location's own RMSE.

    ``errors``: method → float64[N, V] forecast − observed (NaN = not observed or not fitted)."""
    pooled = {m: float(np.nanmean(errors[m] ** 2)) if np.isfinite(errors[m]).any() else np.inf for m in tried}
    overall = min(tried, key=pooled.get)
    orders = []
    for i in range(next(iter(errors.values())).shape[0]):
        own = {m: float(np.nanmean(errors[m][i] ** 2)) if np.isfinite(errors[m][i]).any() else np.inf for m in tried}
        ranked = sorted((m for m in tried if np.isfinite(own[m])), key=own.get)
        first = overall if np.isfinite(own[overall]) else (ranked[0] if ranked else overall)
        if ranked and ranked[0] != first:
            difference = (errors[first][i] ** 2 - errors[ranked[0]][i] ** 2)[np.isfinite(errors[first][i])]
            difference = difference[np.isfinite(difference)]
            spread = OVERRIDE_STANDARD_ERRORS * difference.std(ddof=1) / math.sqrt(max(difference.size, 1))
            if difference.size >= 3 and difference.mean() > spread:
                first = ranked[0]
        orders.append([first] + [m for m in ranked if m != first])
    return orders


def _fit_methods(job) -> dict[str, SeriesForecast | None]:
    """Each method's forecast of the steps after a series (None = it failed; absent = the series is too short)."""
    series, season, tried, h, interval, calendar = job
    out = {}
    for name in tried:
        if name == "combination" and any(m in tried for m in MEMBERS):  # the mean of the members fitted here
            members = [out[m] for m in MEMBERS if out.get(m) is not None]
            if members:
                out[name] = combine(members)
            continue
        try:
            fitted = forecast_series(name, series, h, season, interval, calendar)
        except UserInputError:
            raise
        except Exception:  # noqa: BLE001 — a model that fails here is not chosen (counted)
            out[name] = None
            continue
        if fitted is not None:
            out[name] = fitted
    return out


def _fit_first(job) -> tuple[str, SeriesForecast | None, list[str]]:
    """(method, forecast, methods that failed): the first of the ordered methods that fits the whole series
    (seasonal naive last); ("", None, …) when the series is too short for any."""
    series, season, order, horizon, interval, calendar = job
    failed = []
    for name in dict.fromkeys([*order, "seasonal_naive"]):
        try:
            final = forecast_series(name, series, horizon, season, interval, calendar)
        except UserInputError:
            raise
        except Exception:  # noqa: BLE001 — the next method is used (counted)
            failed.append(name)
            continue
        return (name, final, failed) if final is not None else ("", None, failed)
    return "", None, failed


def _map_locations(function, jobs: list, workers: int):
    """``function`` of each job, in order: in this process, or on ``workers`` processes (0 = all cores) when there
    are enough locations to pay for starting them and this is the main thread of a process that may have children
    (a chunk computed by a dask worker or a chunk thread fits its cells itself: the scheduler is the parallelism)."""
    import multiprocessing
    import threading

    from backend.scale.scheduler import local_cores

    workers = min(workers or local_cores(), max(1, len(jobs) // PROCESS_MIN_LOCATIONS))
    in_main_thread = threading.current_thread() is threading.main_thread()
    if workers <= 1 or not in_main_thread or multiprocessing.current_process().daemon:
        yield from map(function, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=_process_context()) as pool:
        yield from pool.map(function, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers))))


def _process_context():
    """How worker processes start: on Linux a plain fork while this process runs no other Python thread (a script
    calling the engine: nothing is re-imported), else a fork server (a fork copies the locks the other threads —
    progress, parent watch — may hold at that moment, and the child could wait on them for ever; the server has
    this module and the model libraries imported once); spawned elsewhere (macOS frameworks, Windows)."""
    import multiprocessing
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "statsforecast.models", "sklearn.ensemble"])
    return context
