import numpy as np
import pytest

from backend.data.time_axis import check_strictly_increasing, summarize_time_axis
from backend.data.time_parsing import format_time, parse_times, time_from_filename
from backend.errors import UserInputError


def days(*isos):
    return np.array(isos, dtype="datetime64[s]")


def test_parse_times_converts_time_zones_to_naive_utc():
    times = parse_times(["2019-03-01T01:00:00+01:00", "2019-03-01", "2019-03-01 12:30"])
    assert [format_time(t) for t in times] == ["2019-03-01T00:00:00Z", "2019-03-01T00:00:00Z", "2019-03-01T12:30:00Z"]


def test_parse_times_quotes_unparseable_values():
    with pytest.raises(UserInputError, match="could not be read.*'yesterday'"):
        parse_times(["2019-03-01", "yesterday"])


def test_parse_times_rejects_empty_values():
    with pytest.raises(UserInputError, match="1 time values are empty"):
        parse_times(["2019-03-01", ""])


@pytest.mark.parametrize(
    "name, pattern, expected",
    [
        ("t2m_20190301.tif", "%Y%m%d", "2019-03-01T00:00:00Z"),
        ("MOD13_2019_032.tif", "%Y_%j", "2019-02-01T00:00:00Z"),
        ("rain_2010-08-26_0735.tif", "%Y-%m-%d_%H%M", "2010-08-26T07:35:00Z"),
        ("v1_20190399_20190302.tif", "%Y%m%d", "2019-03-02T00:00:00Z"),  # first match is no date
    ],
)
def test_time_from_filename(name, pattern, expected):
    assert format_time(time_from_filename(name, pattern)) == expected


def test_time_from_filename_without_match_names_the_file():
    with pytest.raises(UserInputError, match="t2m_march.tif"):
        time_from_filename("t2m_march.tif", "%Y%m%d")


def test_filename_pattern_needs_a_year():
    with pytest.raises(UserInputError, match="needs a year"):
        time_from_filename("x_0301.tif", "%m%d")


def test_duplicate_timestamps_are_named_with_labels():
    with pytest.raises(UserInputError, match=r"Duplicate timestamp 2019-03-02T00:00:00Z \(b.tif and c.tif\)"):
        check_strictly_increasing(days("2019-03-01", "2019-03-02", "2019-03-02"), ["a.tif", "b.tif", "c.tif"])


def test_decreasing_times_are_refused():
    with pytest.raises(UserInputError, match="not increasing"):
        check_strictly_increasing(days("2019-03-02", "2019-03-01"))


def test_regular_daily_axis():
    summary = summarize_time_axis(np.arange("2019-03-01", "2019-03-28", dtype="datetime64[D]"))
    assert summary.regular and summary.count == 27 and summary.step_seconds == 86400
    assert summary.step_text == "1 day" and summary.gaps == []


def test_gaps_are_counted_in_missing_steps():
    times = np.array([0, 300, 600, 1500, 1800, 3000], dtype="datetime64[s]")  # 5-min with holes
    summary = summarize_time_axis(times)
    assert summary.step_text == "5 min" and not summary.regular
    assert [(g.missing_steps) for g in summary.gaps] == [2, 3]
    assert summary.missing_steps == 5 and summary.irregular_intervals == 0


def test_irregular_intervals_are_reported():
    summary = summarize_time_axis(np.array([0, 60, 120, 150, 210], dtype="datetime64[s]"))
    assert summary.step_seconds == 60 and summary.irregular_intervals == 1 and not summary.regular


def test_monthly_axis_is_regular_despite_month_lengths():
    times = days("2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-06-01")
    summary = summarize_time_axis(times)
    assert summary.step_months == 1 and summary.step_text == "1 month"
    assert [g.missing_steps for g in summary.gaps] == [1]


def test_numbers_are_not_taken_as_epoch_times():
    with pytest.raises(UserInputError, match=r"values of 'pm10' are numbers \(16.7, 31.2…\), not dates"):
        parse_times([16.7, 31.2], "values of 'pm10'")
