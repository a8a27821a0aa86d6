"""One HTML template for every run report: headings, key-value lists, tables, embedded figures."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backend import __version__
from backend.data.atomic import AtomicOutputs
from backend.data.units import readable_number

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em;border-bottom:2px solid #4a7ab5;padding-bottom:.2em}
h2{font-size:1.2em;margin-top:1.6em;color:#2d5384}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccd;padding:.25em .6em;text-align:right}
th{background:#eef2f8}td:first-child,th:first-child{text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
.warn{background:#fff4e0;border-left:4px solid #e0a030;padding:.4em .8em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
footer{margin-top:3em;font-size:.8em;color:#777}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return readable_number(float(value))
    return html.escape(str(value))


@dataclass
class HtmlReport:
    """A self-contained HTML page (figures embedded as PNG), written atomically."""

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def warning(self, text: str) -> None:
        self.parts.append(f"<p class='warn'>{html.escape(text)}</p>")

    def key_values(self, items: dict[str, Any]) -> None:
        rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{_fmt(v)}</dd>" for k, v in items.items())
        self.parts.append(f"<dl>{rows}</dl>")

    def table(self, frame: pd.DataFrame, max_rows: int = 50, rest: str = "are not shown") -> None:
        """At most ``max_rows`` rows; ``rest`` says where the others are (e.g. "are in the events table")."""
        shown = frame.head(max_rows)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in shown.itertuples(index=False)
        )
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if len(frame) > max_rows:
            self.paragraph(f"… {len(frame) - max_rows} more rows {rest}.")

    def figure(self, fig, caption: str = "") -> None:
        """Embed a matplotlib figure as PNG and close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        self.parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def render(self) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
            + "\n".join(self.parts)
            + f"<footer>st_analyzer backend {__version__} · {stamp}</footer></body></html>"
        )

    def write(self, path: str | Path, outputs: AtomicOutputs) -> None:
        outputs.temporary(path).write_text(self.render(), encoding="utf-8")


def plot_series(ax, times, values, **style):
    """A time series line that breaks where readings are missing: at NaN and across gaps longer than 1.5 times the
    usual interval (a station without readings for two months is not drawn as a straight line). ``times``:
    datetime64[N] (or a DatetimeIndex), ``values``: float[N]."""
    times = pd.DatetimeIndex(times).to_numpy(dtype="datetime64[ns]")
    values = np.asarray(values, dtype=float)
    if times.size > 2:
        intervals = np.diff(times).astype(np.float64)
        usual = np.median(intervals)
        gaps = np.flatnonzero(intervals > 1.5 * usual) + 1 if usual > 0 else np.array([], dtype=int)
        if gaps.size:
            middles = times[gaps - 1] + (times[gaps] - times[gaps - 1]) // 2
            times = np.insert(times, gaps, middles)
            values = np.insert(values, gaps, np.nan)
    return ax.plot(pd.DatetimeIndex(times), values, **style)


def label_time_axes(ax, value_label: str) -> None:
    """Axis labels of a time-series plot: "time (UTC)" and the values with their unit (see units.axis_label)."""
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(value_label)


def new_figure(width: float = 8.0, height: float = 3.0):
    """A matplotlib figure and axes on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))
