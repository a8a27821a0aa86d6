"""The report section of a forecaster blended with its baselines: the weights per horizon step and which part
wins, on the validation windows (where the weights were fitted) and on the held-out test windows."""

from __future__ import annotations

import pandas as pd

from backend.forecast.blend import REFITTED_TEXT, HorizonBlend
from backend.report.html import HtmlReport


def blend_section(
    report: HtmlReport, blend: HorizonBlend, steps: list[str], network_test: list[float], model_test: list[float]
) -> None:
    """``network_test``, ``model_test``: the test score per step (in the blend's metric) of the network alone and
    of the blend."""
    report.heading("Blend of the network with the baselines")
    report.paragraph(
        "The model's forecast at each horizon step is a weighted mean of the network and the baselines; the weights "
        f"(≥ 0, sum 1) are the ones with the lowest {blend.metric.upper()} on the validation windows among each part "
        "alone and the best weighted means. Where the network adds nothing it gets no weight, so the model is not "
        "worse than the best baseline on those windows."
    )
    weights = pd.DataFrame(blend.weights, index=steps, columns=blend.names).T
    weights.insert(0, "part", weights.index)
    report.table(weights.round(3))
    rows = {
        "largest weight": blend.leaders(),
        f"validation {blend.metric.upper()}, network alone": [round(v, 4) for v in blend.validation_scores["network"]],
        f"validation {blend.metric.upper()}, blend": [round(v, 4) for v in blend.validation_scores["blend"]],
        f"test {blend.metric.upper()}, network alone": [round(v, 4) for v in network_test],
        f"test {blend.metric.upper()}, blend (the model)": [round(v, 4) for v in model_test],
    }
    table = pd.DataFrame(rows, index=steps).T
    table.insert(0, "", table.index)
    report.table(table)
    report.paragraph(REFITTED_TEXT)
