"""Raster stacks on the map's time axis, however they were opened, on every supported QGIS.

A stack is any raster layer whose band descriptions are all ISO times (as st_analyzer writes them). When one is
added to the project without active temporal properties (opened by hand: QGIS < 3.38 does not take them from the
sidecar style), :class:`StackTimeKeeper` gives it its band times. QGIS ≥ 3.38 then draws the band whose time range
holds the controller's time by itself (per-band temporal mode); on older versions the whole stack has one fixed
range and the keeper switches the band of single-band renderers when the map's time changes."""

from __future__ import annotations

import bisect
import re

from qgis.core import Qgis, QgsDateTimeRange, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QDateTime, Qt


def has_per_band_mode() -> bool:
    """True when QGIS itself renders the band of the current time (QGIS ≥ 3.38)."""
    return getattr(getattr(Qgis, "RasterTemporalMode", None), "FixedRangePerBand", None) is not None


_ISO_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)Z?\s*$")


def band_time_texts(layer: QgsRasterLayer) -> list[str] | None:
    """The ISO time of each band, read from its name ("Band 03: 2019-03-03T00:00:00Z"), or None when one has none."""
    texts = []
    for band in range(1, layer.bandCount() + 1):
        match = _ISO_IN_NAME.search(layer.bandName(band) or "")
        if not match:
            return None
        texts.append(match.group(1) + "Z")
    return texts or None


def band_start_times(layer: QgsRasterLayer) -> list[QDateTime] | None:
    """The start time (UTC) of each band, or None when a band has no time."""
    texts = band_time_texts(layer)
    if texts is None:
        return None
    times = []
    for text in texts:
        value = QDateTime.fromString(text.rstrip("Z"), Qt.DateFormat.ISODate)
        value.setTimeSpec(Qt.TimeSpec.UTC)
        times.append(value)
    return times


def make_temporal(layer) -> bool:
    """Times for a result opened without them: band times for a stack (the last band lasts as long as the one
    before, in calendar months when the bands are months apart), feature times for a point result whose style
    names its time field; True when they were set."""
    from st_analyzer.layers import TIME_FIELD_PROPERTY, set_band_times, set_feature_times

    properties = getattr(layer, "temporalProperties", lambda: None)()
    if properties is None or properties.isActive():
        return False
    if not isinstance(layer, QgsRasterLayer):
        field = layer.customProperty(TIME_FIELD_PROPERTY)
        return bool(field) and set_feature_times(layer, str(field))
    texts = band_time_texts(layer)
    if not texts:
        return False
    starts = band_start_times(layer)
    step_seconds, step_months = None, None
    if len(starts) > 1:
        previous, last = starts[-2], starts[-1]
        months = (last.date().year() - previous.date().year()) * 12 + last.date().month() - previous.date().month()
        if previous.addMonths(months) == last and months > 0:
            step_months = months
        else:
            step_seconds = previous.secsTo(last)
    set_band_times(layer, texts, step_seconds, step_months)
    return True


def band_for_time(starts: list[QDateTime], time: QDateTime) -> int:
    """1-based band whose time is the last one at or before ``time`` (band 1 before the first)."""
    keys = [t.toMSecsSinceEpoch() for t in starts]
    return max(1, bisect.bisect_right(keys, time.toMSecsSinceEpoch()))


def show_band_for_range(layer: QgsRasterLayer, time_range: QgsDateTimeRange) -> bool:
    """Switch a stack's single-band renderer to the band of ``time_range``'s start; True when it changed."""
    renderer = layer.renderer()
    if renderer is None or not hasattr(renderer, "setBand") or not time_range.begin().isValid():
        return False
    starts = band_start_times(layer)
    if not starts:
        return False
    band = band_for_time(starts, time_range.begin())
    current = renderer.band() if hasattr(renderer, "band") else renderer.inputBand()
    if band == current:
        return False
    renderer.setBand(band)
    layer.triggerRepaint()
    layer.legendChanged.emit()  # the layer tree shows the band's time
    return True


class StackTimeKeeper:
    """Gives stacks added to the project their band times and, on QGIS < 3.38 (``controller`` given), keeps them
    on the band of the map canvas's current time."""

    def __init__(self, controller=None) -> None:
        self.controller = controller
        QgsProject.instance().layersAdded.connect(self.prepare)
        if controller is not None:
            controller.updateTemporalRange.connect(self.follow)

    @staticmethod
    def prepare(layers) -> None:
        for layer in layers:
            make_temporal(layer)

    def follow(self, time_range: QgsDateTimeRange) -> None:
        for layer in QgsProject.instance().mapLayers().values():
            if isinstance(layer, QgsRasterLayer):
                make_temporal(layer)  # a stack opened before the plugin started
                if layer.temporalProperties().isActive():
                    show_band_for_range(layer, time_range)

    def stop(self) -> None:
        signals = [(QgsProject.instance().layersAdded, self.prepare)]
        if self.controller is not None:
            signals.append((self.controller.updateTemporalRange, self.follow))
        for signal, slot in signals:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):  # already disconnected, or the canvas is gone
                pass
