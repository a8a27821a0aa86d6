"""Evaluation on labelled anomalies: AUC-PR (average precision), ROC-AUC, event recall and false alarms.

Point-adjusted F1 is deliberately not offered: it credits a whole window for one hit and inflates results.
"""

from __future__ import annotations

import numpy as np


def point_labels(times: np.ndarray, windows: list[tuple[np.datetime64, np.datetime64]]) -> np.ndarray:
    """bool[T]: inside any labelled window (inclusive)."""
    inside = np.zeros(times.size, dtype=bool)
    for start, end in windows:
        inside |= (times >= start) & (times <= end)
    return inside


def ranking_scores(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Average precision and ROC-AUC; missing scores count as the lowest."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    filled = np.where(np.isfinite(scores), scores, -np.inf)
    filled = np.where(
        np.isinf(filled), np.nanmin(scores[np.isfinite(scores)]) - 1 if np.isfinite(scores).any() else 0, filled
    )
    return {
        "auc_pr": float(average_precision_score(labels, filled)),
        "roc_auc": float(roc_auc_score(labels, filled)),
        "base_rate": float(labels.mean()),
    }


def event_scores(times: np.ndarray, flags: np.ndarray, windows) -> dict[str, float]:
    """Share of labelled windows with at least one flagged point, and flagged points outside all windows."""
    inside = point_labels(times, windows)
    hit = [bool(flags[(times >= s) & (times <= e)].any()) for s, e in windows]
    return {
        "event_recall": float(np.mean(hit)) if hit else float("nan"),
        "false_alarm_points": int((flags & ~inside).sum()),
    }
