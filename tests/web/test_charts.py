"""The pages' charts as values: an axis that starts at zero and covers the data, whole
labels, every mark inside the drawing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from welfare.web.charts import HEIGHT, WIDTH, bars, nice_top, scores


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (0.4, 0.5), (88.0, 100), (101, 200), (240, 250), (27, 50)]
)
def test_the_axis_top_is_round_and_above_the_peak(peak: float, top: float) -> None:
    assert nice_top(peak) == top


def test_bars_stay_inside_and_say_whole_minutes() -> None:
    first = date(2027, 1, 4)
    chart = bars([(first + timedelta(weeks=n), m) for n, m in enumerate([88.0, 0, 412.6])])
    assert [m["value"] for m in chart.marks] == [88, 0, 413]
    assert chart.ticks[0]["label"] == "0"
    assert chart.ticks[-1]["label"] == "500"
    for mark in chart.marks:
        assert mark["x"] >= 0
        assert mark["x"] + mark["w"] <= WIDTH
        assert 0 <= mark["y"] <= chart.baseline <= HEIGHT
        assert mark["height"] >= 0
    assert chart.marks[1]["height"] == 0


def test_scores_use_the_instruments_whole_scale() -> None:
    chart = scores([(date(2027, 1, 5), 0), (date(2027, 4, 5), 27)], high=27)
    assert chart.ticks[-1]["label"] == "27"
    low, high = chart.marks
    assert low["y"] == chart.baseline
    assert high["y"] == chart.ticks[-1]["y"]
    assert chart.line == f"{low['x']},{low['y']} {high['x']},{high['y']}"
    assert [t["label"] for t in chart.ticks] == ["0", "7", "14", "20", "27"]  # whole scores
