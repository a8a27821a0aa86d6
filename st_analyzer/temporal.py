"""Times on the map: band times of raster stacks and feature times of point results, set by the plugin and kept
however the layer was opened, on every supported QGIS.

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


def _qdatetime(iso: str) -> QDateTime:
    value = QDateTime.fromString(iso.rstrip("Z"), Qt.DateFormat.ISODate)
    value.setTimeSpec(Qt.TimeSpec.UTC)
    return value


def band_times(summary: dict) -> dict:
    """The band-time keywords of :class:`RasterResultPostProcessor` from a backend summary (``times`` with
    ``step_seconds``/``step_months`` at the top or under ``time_axis``)."""
    axis = summary.get("time_axis") or summary
    return {
        "times_iso": summary.get("times") or [],
        "step_seconds": axis.get("step_seconds"),
        "step_months": axis.get("step_months"),
    }


def set_band_times(
    layer: QgsRasterLayer, times_iso: list[str], step_seconds: float | None, step_months: int | None = None
) -> str:
    """Give the layer its times: one range per band on QGIS ≥ 3.38, else the whole time span. The last band
    lasts one step (calendar months for monthly, quarterly or yearly stacks).

    Returns which mode was used ("per band", "fixed range" or "none").
    """
    if not times_iso:
        return "none"
    starts = [_qdatetime(t) for t in times_iso]
    if step_months:
        last_end = starts[-1].addMonths(int(step_months))
    else:
        last_end = starts[-1].addSecs(int(step_seconds or 0)) if step_seconds else starts[-1]
    ends = starts[1:] + [last_end]
    properties = layer.temporalProperties()
    per_band_mode = getattr(getattr(Qgis, "RasterTemporalMode", None), "FixedRangePerBand", None)
    if per_band_mode is not None and hasattr(properties, "setFixedRangePerBand"):
        properties.setFixedRangePerBand(
            {
                band: QgsDateTimeRange(start, end, True, False)
                for band, (start, end) in enumerate(zip(starts, ends), start=1)
            }
        )
        properties.setMode(per_band_mode)
        properties.setIsActive(True)
        return "per band"
    properties.setFixedTemporalRange(QgsDateTimeRange(starts[0], last_end))
    properties.setMode(properties.ModeFixedTemporalRange)
    properties.setIsActive(True)
    return "fixed range"


TIME_FIELD_PROPERTY = "st_analyzer/time_field"  # kept in the sidecar style: the field that holds feature times


def set_feature_times(layer, time_field: str) -> bool:
    """Feature times from ``time_field`` (instants), remembered in the layer's style; False without that field."""
    from qgis.core import QgsVectorLayerTemporalProperties

    if time_field not in layer.fields().names():
        return False
    temporal = layer.temporalProperties()
    temporal.setMode(QgsVectorLayerTemporalProperties.ModeFeatureDateTimeInstantFromField)
    temporal.setStartField(time_field)
    temporal.setIsActive(True)
    layer.setCustomProperty(TIME_FIELD_PROPERTY, time_field)
    return True


def time_span_text(times_iso: list[str]) -> str:
    """Short text of a time span for layer names: 2005-01-10…16, 2005-01-10…03-31, 2005-01-10…2006-01-09, and
    with hours when the times are not all midnight: 2019-03-09 00:00…05:00."""
    if not times_iso:
        return ""
    first, last = times_iso[0][:10], times_iso[-1][:10]
    clock = [t[11:16] for t in (times_iso[0], times_iso[-1])] if len(times_iso[0]) > 11 else ["00:00", "00:00"]
    if clock != ["00:00", "00:00"]:
        return f"{first} {clock[0]}…{'' if first == last else last + ' '}{clock[1]}"
    if first == last:
        return first
    common = 8 if first[:8] == last[:8] else 5 if first[:5] == last[:5] else 0
    return f"{first}…{last[common:]}"


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
