"""Reading and writing times: timestamps in many formats to naive UTC ``datetime64[s]``, ISO 8601 text,
durations, and times in file names (strptime patterns)."""

from __future__ import annotations

import re
import warnings
from datetime import datetime

import numpy as np
import pandas as pd

from backend.errors import UserInputError

_MAX_EXAMPLES = 5


_MIXED = {"format": "mixed"} if int(pd.__version__.split(".")[0]) >= 2 else {}


_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")


_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[T ,]+(.*))?$")


_TIME_OF_DAY = ("", " %H:%M", " %H:%M:%S")


def to_utc_naive(values) -> pd.Series:
    """Parse ISO 8601 or date-like objects to naive UTC timestamps; unparseable entries become NaT.

    Each value is read on its own: use it only for values that are unambiguous (ISO text, dates)."""
    with warnings.catch_warnings():  # pandas warns about per-element format inference
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", utc=True, **_MIXED)
    return parsed.dt.tz_convert(None)


def _with_format(texts: pd.Series, time_format: str) -> pd.Series:
    parsed = pd.to_datetime(texts, format=time_format, errors="coerce", utc=True)
    return parsed.dt.tz_convert(None)


def _numeric_date_format(texts: pd.Series, what: str) -> str:
    """The one strptime pattern of day/month/year text such as 31/01/2005 or 01.31.2005 14:00.

    The order is decided from the whole column: a first number above 12 means day first, a second
    number above 12 month first; a column where neither occurs is ambiguous and refused."""
    parts = texts.str.extract(_NUMERIC_DATE)
    first, second = parts[0].astype(int), parts[2].astype(int)
    separator = parts[1].iloc[0]
    year = "%Y" if len(parts[3].iloc[0]) == 4 else "%y"
    if (parts[1] != separator).any() or parts[3].str.len().nunique() > 1:
        raise UserInputError(
            f"The {what} mix date formats (separators or year digits differ). Give the format as "
            "TIME_FORMAT (e.g. %d/%m/%Y) or fix the values."
        )
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        raise UserInputError(
            f"The {what} put the day first in some rows and the month first in others (e.g. "
            f"{texts[first > 12].iloc[0]!r} and {texts[second > 12].iloc[0]!r}). Fix the column so "
            "that it uses one date format."
        )
    if not day_first and not month_first:
        raise UserInputError(
            f"The {what} can be read day first or month first (e.g. {texts.iloc[0]!r}). Give the "
            f"format as TIME_FORMAT: %d{separator}%m{separator}{year} (day first) or "
            f"%m{separator}%d{separator}{year} (month first), with %H:%M for a time of day."
        )
    date = f"%d{separator}%m{separator}{year}" if day_first else f"%m{separator}%d{separator}{year}"
    clock = parts[4].dropna()
    colons = int(clock.str.count(":").max()) if not clock.empty else 0
    return date + _TIME_OF_DAY[min(colons, 2)]


def _parse_column(texts: pd.Series, what: str) -> pd.Series:
    """Read a text column with one format for every value: ISO 8601, day/month order decided from the whole
    column, or the format pandas infers from the first value."""
    if texts.str.match(_ISO).all():
        return to_utc_naive(texts)
    if texts.str.match(_NUMERIC_DATE).all():
        return _with_format(texts, _numeric_date_format(texts, what))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        options = {} if _MIXED else {"infer_datetime_format": True}
        parsed = pd.to_datetime(texts, errors="coerce", utc=True, **options)
    return parsed.dt.tz_convert(None)


def parse_times(values, what: str = "time values", time_format: str | None = None) -> np.ndarray:
    """Parse strings/dates/datetimes into naive UTC ``datetime64[s]``, one format for the whole column.

    ``time_format``: a strptime pattern (``%d/%m/%Y %H:%M``) that every text value must follow; without
    it ISO 8601 is read, day/month order is decided from the whole column (ambiguous columns are
    refused), other text follows the format of its first value. Unparseable entries raise
    :class:`UserInputError` quoting a few of them.
    """
    series = pd.Series(list(values), dtype=object)
    if series.empty:
        return np.array([], dtype="datetime64[s]")
    missing = series.isna() | (series.astype(str).str.strip() == "")
    if missing.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing.to_numpy())[:_MAX_EXAMPLES])
        raise UserInputError(
            f"{int(missing.sum())} {what} are empty (rows {rows}…). Fill them in or remove those "
            "features before running."
        )
    numbers = series.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    if numbers.any():
        examples = ", ".join(str(v) for v in series[numbers].unique()[:3])
        raise UserInputError(
            f"The {what} are numbers ({examples}…), not dates or times. Choose a date/time field, or "
            "text in ISO 8601 such as 2005-01-31."
        )
    texts = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    is_text = texts.map(lambda v: isinstance(v, str))
    parsed = to_utc_naive(texts.where(~is_text, None)).copy()
    if is_text.any():
        text_values = texts[is_text].astype(str)
        if time_format:
            parsed[is_text] = _with_format(text_values, time_format)
        else:
            parsed[is_text] = _parse_column(text_values, what)
    bad = parsed.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].astype(str).unique()[:_MAX_EXAMPLES])
        expected = (
            f"the format {time_format!r}"
            if time_format
            else "ISO 8601 (2005-01-31 or 2005-01-31T12:00:00Z), one format for the whole column"
        )
        raise UserInputError(
            f"{int(bad.sum())} {what} could not be read as dates/times, e.g. {examples}. Expected {expected}; "
            "give the format as TIME_FORMAT (a strptime pattern such as %d/%m/%Y %H:%M) or use a date/time field."
        )
    return parsed.to_numpy().astype("datetime64[s]")


def format_time(t: np.datetime64) -> str:
    """ISO 8601 UTC text of a ``datetime64``, e.g. ``2019-03-01T00:00:00Z``."""
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str, what: str) -> pd.Timedelta:
    """A positive duration written as '6h', '2 days', '30min'; anything else is a clear input error."""
    try:
        duration = pd.Timedelta(str(text).strip())
    except ValueError as exc:
        raise UserInputError(f"Cannot read the {what} {text!r}; write e.g. '6h', '2 days' or '30min'.") from exc
    if pd.isna(duration) or duration <= pd.Timedelta(0):
        raise UserInputError(f"The {what} must be a positive duration, got {text!r}; write e.g. '6h' or '2 days'.")
    return duration


def format_duration(seconds: float) -> str:
    """Human text of a time step: ``5 min``, ``1 h``, ``1 day``."""
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}"
    return f"{seconds:g} s"


_STRPTIME_REGEX = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%j": r"\d{3}",
    "%b": r"[A-Za-z]{3}",
    "%%": "%",
}


def filename_pattern_regex(pattern: str) -> re.Pattern[str]:
    """Regex that finds a ``strptime`` pattern (``%Y%m%d``, ``%Y-%j`` …) inside a file name."""
    parts, i = [], 0
    while i < len(pattern):
        token = pattern[i : i + 2]
        if token in _STRPTIME_REGEX:
            parts.append(_STRPTIME_REGEX[token])
            i += 2
        elif pattern[i] == "%":
            raise UserInputError(
                f"The filename pattern {pattern!r} uses {token!r}, which is not supported. "
                f"Use {', '.join(k for k in _STRPTIME_REGEX if k != '%%')}."
            )
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    if not any(k in pattern for k in ("%Y", "%y")):
        raise UserInputError(f"The filename pattern {pattern!r} needs a year (%Y or %y).")
    return re.compile("".join(parts))


def time_from_filename(name: str, pattern: str) -> np.datetime64:
    """Time encoded in a file name by a ``strptime`` pattern; the first match that parses wins."""
    regex = filename_pattern_regex(pattern)
    for match in regex.finditer(name):
        try:
            return np.datetime64(datetime.strptime(match.group(0), pattern), "s")
        except ValueError:
            continue
    raise UserInputError(
        f"The file name {name!r} does not contain a date matching the pattern {pattern!r} "
        "(e.g. %Y%m%d finds 20190301 in t2m_20190301.tif)."
    )
