"""Data model (RasterStack, PointPanel), time axes and readers/writers."""

from backend.data.point_panel import PointPanel, to_metric
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_axis import TimeAxisSummary, summarize_time_axis

__all__ = ["GridSpec", "PointPanel", "RasterStack", "TimeAxisSummary", "summarize_time_axis", "to_metric"]
