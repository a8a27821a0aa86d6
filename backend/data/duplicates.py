"""Repeated readings of one station at one time (exports of loggers and loop detectors have them)."""

from __future__ import annotations

import pandas as pd

from backend.errors import UserInputError
from backend.progress import Reporter

DUPLICATE_RULES = ("refuse", "mean", "median", "first", "last", "sum")


def merge_duplicates(
    readings: pd.DataFrame, rule: str, what: str = "readings", reporter: Reporter | None = None
) -> pd.DataFrame:
    """One row per (id, time) of ``readings`` (columns id, time, value; rows in file order).

    ``rule``: "refuse" (a clear error naming an example), or how repeated readings are merged: mean,
    median or sum of the values (missing ones ignored; all missing stays missing), or the first / last
    reading in file order. The log says how many readings were merged.
    """
    if rule not in DUPLICATE_RULES:
        raise UserInputError(f"Unknown DUPLICATES rule {rule!r}; use one of {', '.join(DUPLICATE_RULES)}.")
    repeated = readings.duplicated(["id", "time"], keep=False)
    if not repeated.any():
        return readings
    if rule == "refuse":
        first = readings[repeated].iloc[0]
        raise UserInputError(
            f"{int(repeated.sum())} {what} repeat a station-time, e.g. station {first['id']} at "
            f"{pd.Timestamp(first['time']).isoformat()}. Each station may have one value per time: choose how to "
            "merge them with DUPLICATES (mean, median, first, last or sum), or aggregate them first."
        )
    if rule in ("first", "last"):
        merged = readings.drop_duplicates(["id", "time"], keep=rule)
    else:
        groups = readings.groupby(["id", "time"], sort=False)["value"]
        values = groups.sum(min_count=1) if rule == "sum" else groups.agg(rule)
        merged = values.reset_index()
    keys = int(readings[repeated].drop_duplicates(["id", "time"]).shape[0])
    if reporter is not None:
        reporter.log(f"{int(repeated.sum())} {what} at {keys} repeated station-times merged into one each ({rule}).")
    return merged[["id", "time", "value"]].reset_index(drop=True)
