"""Readings that look like a number written for "no data" (loop detectors write 0, loggers −9999 or 9999): one
exact value, the smallest or largest of the data, far more frequent than any other value, often at every sensor
of a step at once (network-wide outages)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SHARE = 0.01  # of the readings: a code rarer than this does not distort training much
STANDS_OUT = 3.0  # times the share of the next most frequent value (rounded data repeat values too)
NETWORK_WIDE = 0.9  # share of a step's reporting locations that read the code for a network-wide outage


@dataclass
class SuspectedMissingCode:
    """``value`` read at ``share`` of the readings (``next_share``: the next most frequent value's share);
    ``network_wide_steps`` steps at which at least :data:`NETWORK_WIDE` of the reporting locations read it."""

    value: float
    share: float
    next_share: float
    network_wide_steps: int
    steps: int

    def describe(self) -> str:
        text = (
            f"{100 * self.share:.1f} % of the readings are exactly {self.value:g}, the "
            f"{'smallest' if self.value <= 0 else 'largest'} value and {self.share / max(self.next_share, 1e-12):.0f}× "
            "as frequent as any other value"
        )
        if self.network_wide_steps:
            text += (
                f"; at {self.network_wide_steps} of {self.steps} steps (nearly) every location reads {self.value:g} "
                "at once, as in a network-wide outage"
            )
        return text + "."


def suspected_missing_code(values_tn: np.ndarray) -> SuspectedMissingCode | None:
    """The value of float[T, N] readings (NaN = missing) that looks like a "no data" code, or None: the most
    frequent exact value, when it is the smallest or the largest reading, at least :data:`MIN_SHARE` of the readings
    and :data:`STANDS_OUT` times as frequent as the next value."""
    values = np.asarray(values_tn, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size < 100:
        return None
    uniques, counts = np.unique(finite, return_counts=True)
    if uniques.size < 3:
        return None
    order = np.argsort(counts)[::-1]
    top, next_count = uniques[order[0]], counts[order[1]]
    share, next_share = counts[order[0]] / finite.size, next_count / finite.size
    at_edge = top == uniques[0] or top == uniques[-1]
    if not at_edge or share < MIN_SHARE or share < STANDS_OUT * next_share:
        return None
    reporting = np.isfinite(values).sum(axis=1)
    coded = (values == top).sum(axis=1)
    wide = int(((coded >= NETWORK_WIDE * reporting) & (reporting >= 2) & (coded > 0)).sum()) if values.ndim == 2 else 0
    return SuspectedMissingCode(float(top), float(share), float(next_share), wide, int(values.shape[0]))
