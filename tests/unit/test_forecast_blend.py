"""The per-horizon blend of a network with its baselines, and baselines restored from a model file."""

import numpy as np
import pytest

from backend.data.time_step import TimeStep
from backend.forecast.baselines import BaselineSet
from backend.forecast.blend import HorizonBlend


def _parts(rng, shape=(200, 3, 10)):
    truth = rng.normal(size=shape)
    good = truth + rng.normal(scale=0.5, size=shape)
    other = truth + rng.normal(scale=0.5, size=shape)
    poor = truth + rng.normal(scale=2.0, size=shape)
    return truth, {"network": poor, "a": good, "b": other}


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_the_blend_is_never_worse_than_a_part_on_the_windows_it_was_fitted_on(metric):
    truth, parts = _parts(np.random.default_rng(1))
    blend = HorizonBlend.fit(parts, truth, metric)
    combined = blend.combine(parts)
    for h in range(3):
        error = combined[:, h] - truth[:, h]
        score = np.mean(np.abs(error)) if metric == "mae" else np.sqrt(np.mean(error**2))
        assert score == pytest.approx(blend.validation_scores["blend"][h], rel=1e-5)
        assert all(score <= blend.validation_scores[name][h] + 1e-9 for name in parts)
        assert sum(blend.weights[h]) == pytest.approx(1.0) and min(blend.weights[h]) >= 0
    # two independent errors of equal size: about half each, the poor network nearly nothing
    assert blend.weights[0][1] == pytest.approx(0.5, abs=0.1) and blend.weights[0][0] < 0.15
    assert blend.baselines == ["a", "b"] and blend.leaders()[0] in ("a", "b")


def test_a_perfect_part_takes_all_the_weight_and_the_network_alone_when_best():
    truth, parts = _parts(np.random.default_rng(2))
    parts["b"] = truth.copy()
    assert [row[2] for row in HorizonBlend.fit(parts, truth, "mae").weights] == pytest.approx([1.0] * 3, abs=1e-6)
    parts = {"network": truth + 0.01, "a": truth + 1.0}
    blend = HorizonBlend.fit(parts, truth, "rmse")
    assert blend.baselines == [] and blend.leaders() == ["network"] * 3


def test_missing_parts_are_left_out_of_the_fit_and_share_their_weight_when_combining():
    truth, parts = _parts(np.random.default_rng(3))
    parts["a"][::5] = np.nan
    truth[1::7] = np.nan
    blend = HorizonBlend.fit(parts, truth, "mae")
    assert np.isfinite(blend.validation_scores["blend"]).all()
    combined = blend.combine(parts)
    assert np.isfinite(combined).all()
    row = blend.weights[0]
    expected = (row[0] * parts["network"][0, 0] + row[2] * parts["b"][0, 0]) / (row[0] + row[2])
    assert combined[0, 0] == pytest.approx(expected, rel=1e-5)  # window 0 has no "a"
    again = HorizonBlend.from_dict(blend.to_dict())
    assert again == blend


def test_baselines_restored_from_their_parameters_forecast_as_the_fitted_ones():
    rng = np.random.default_rng(4)
    times = np.arange("2024-01-01T00:00", "2024-01-15T00:00", np.timedelta64(15, "m"), dtype="datetime64[s]")
    profile = 50 + 10 * np.sin(2 * np.pi * np.arange(times.size) / 96)[:, None]
    values = (profile + rng.normal(scale=3, size=(times.size, 4))).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    step = TimeStep.from_fields(900, 0)
    fitted = BaselineSet(values, times, step, 1000, weekly=True)
    names = ["persistence", "historical_average", "exponential_smoothing", "ar"]
    parameters = fitted.parameters(names)
    # a forecast later sees only the readings from step 600 on: nothing is refitted on them
    restored = BaselineSet.from_parameters(parameters, values[600:], times[600:], step, weekly=True)
    origins = np.array([700, 900, 1300])
    for name in names:
        np.testing.assert_allclose(
            restored.predict_many(name, origins - 600, 4), fitted.predict_many(name, origins, 4), rtol=2e-4, atol=0.2
        )
    exact = BaselineSet.from_parameters(parameters, values, times, step, weekly=True)
    for name in names:
        np.testing.assert_array_equal(exact.predict_many(name, origins, 4), fitted.predict_many(name, origins, 4))
    with pytest.raises(ValueError, match="do not fit"):
        BaselineSet.from_parameters(parameters, values[:, :3], times, step, weekly=True)


def test_the_saved_model_s_profile_is_refitted_on_every_reading_and_its_ar_models_kept():
    from backend.forecast.blend import Combination

    rng = np.random.default_rng(5)
    times = np.arange("2024-01-01T00:00", "2024-01-29T00:00", np.timedelta64(1, "h"), dtype="datetime64[s]")
    values = 20 + 5 * np.sin(2 * np.pi * np.arange(times.size) / 24)[:, None] + rng.normal(size=(times.size, 3))
    values = values.astype(np.float32)
    step = TimeStep.from_fields(3600, 0)
    names = ["historical_average", "exponential_smoothing", "ar"]
    fitted = BaselineSet(values, times, step, 400, weekly=True)
    blend = HorizonBlend(["network"] + names, [[0.4, 0.2, 0.2, 0.2]] * 3, "mae", {})
    combination = Combination(blend, fitted.parameters(names), True)
    saved = combination.refitted_on(values, times, step)
    everything = BaselineSet(values, times, step, times.size, weekly=True)
    np.testing.assert_array_equal(saved.parameters["climatology"], everything.climatology.means)
    assert not np.array_equal(saved.parameters["climatology"], combination.parameters["climatology"])
    np.testing.assert_array_equal(saved.parameters["alpha"], everything.alpha)
    np.testing.assert_array_equal(saved.parameters["ar_coefficients"], combination.parameters["ar_coefficients"])
    assert saved.blend == combination.blend
