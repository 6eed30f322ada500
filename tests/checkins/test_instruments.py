"""The screening scorers: every band edge, the critical item, DSM-5 pattern, change, ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.checkins import instruments
from welfare.checkins.instruments import InstrumentError, ScoringConfig
from welfare.checkins.instruments.gad7 import GAD7
from welfare.checkins.instruments.pcl5 import PCL5, meets_dsm5_pattern
from welfare.checkins.instruments.phq9 import PHQ9

CONFIG = ScoringConfig(cutoffs={"phq9": 10, "gad7": 10, "pcl5": 33}, meaningful_change={"pcl5": 10})


def answers_for(total: int, count: int, high: int, *, avoid_last: bool = False) -> list[int]:
    """Answers adding up to `total`, filled from the first item (item 9 of PHQ-9 last)."""
    values = [0] * count
    remaining = total
    order = range(count - 1) if avoid_last else range(count)
    for index in order:
        values[index] = min(high, remaining)
        remaining -= values[index]
    assert remaining == 0
    return values


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
    ],
)
def test_phq9_band_edges(total: int, band: str) -> None:
    result = PHQ9.score(answers_for(total, 9, 3, avoid_last=True), config=CONFIG)
    assert (result.total, result.band) == (total, band)
    assert ("over_cutoff" in result.flags) == (total >= 10)
    assert "self_harm_thoughts" not in result.flags


def test_phq9_top_total_and_item_nine_is_critical_whatever_the_total() -> None:
    assert PHQ9.score([3] * 9, config=CONFIG).band == "severe"
    low = PHQ9.score([0, 0, 0, 0, 0, 0, 0, 0, 1], config=CONFIG)
    assert (low.total, low.band) == (1, "minimal")
    assert "self_harm_thoughts" in low.flags


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(total: int, band: str) -> None:
    result = GAD7.score(answers_for(total, 7, 3), config=CONFIG)
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "below_cutoff"), (32, "below_cutoff"), (33, "above_cutoff"), (80, "above_cutoff")],
)
def test_pcl5_cutoff_edges(total: int, band: str) -> None:
    result = PCL5.score(answers_for(total, 20, 4), config=CONFIG)
    assert (result.total, result.band) == (total, band)
    assert ("over_cutoff" in result.flags) == (total >= 33)


def test_pcl5_cutoff_is_configuration(settings) -> None:
    settings.SCREENING_CUTOFFS = {**settings.SCREENING_CUTOFFS, "pcl5": 38}
    configured = instruments.get("pcl5")
    assert configured is not None
    assert configured.band_for(37) == "below_cutoff"
    assert configured.band_for(38) == "above_cutoff"


def test_pcl5_dsm5_pattern() -> None:
    # One of B (1-5), one of C (6-7), two of D (8-14), two of E (15-20), each rated 2+.
    meets = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]
    assert meets_dsm5_pattern(meets)
    assert "dsm5_pattern" in PCL5.score(meets, config=CONFIG).flags
    one_short = list(meets)
    one_short[8] = 1  # only one D symptom at 2 or more
    assert not meets_dsm5_pattern(one_short)
    ones = [1] * 20  # many symptoms, none rated 2
    assert not meets_dsm5_pattern(ones)


@pytest.mark.parametrize(
    ("previous", "total", "flag"),
    [(20, 30, "rose_by_10"), (20, 29, None), (40, 30, "fell_by_10"), (None, 30, None)],
)
def test_pcl5_change_of_ten_points(previous: int | None, total: int, flag: str | None) -> None:
    result = PCL5.score(answers_for(total, 20, 4), previous_total=previous, config=CONFIG)
    changes = {"rose_by_10", "fell_by_10"} & set(result.flags)
    assert changes == ({flag} if flag else set())
    assert result.change == (None if previous is None else total - previous)


@pytest.mark.parametrize(
    ("instrument", "answers", "message"),
    [
        (PHQ9, [0] * 8, "Give exactly 9 answers, one for each item."),
        (PHQ9, [0] * 10, "Give exactly 9 answers, one for each item."),
        (PHQ9, [0] * 8 + [4], "Item 9: give a whole number from 0 to 3."),
        (GAD7, [0, 0, -1, 0, 0, 0, 0], "Item 3: give a whole number from 0 to 3."),
        (PCL5, [0] * 19 + [1.5], "Item 20: give a whole number from 0 to 4."),
        (PCL5, [0] * 19 + ["2"], "Item 20: give a whole number from 0 to 4."),
        (GAD7, [True] * 7, "Item 1: give a whole number from 0 to 3."),
        (GAD7, "0000000", "Give exactly 7 answers, one for each item."),
    ],
)
def test_out_of_range_answers_are_refused(instrument, answers, message: str) -> None:
    with pytest.raises(InstrumentError) as refused:
        instrument.score(answers, config=CONFIG)
    assert message in refused.value.messages


@given(st.data())
def test_totals_are_in_range_for_any_valid_answers(data: st.DataObject) -> None:
    instrument = data.draw(st.sampled_from([PHQ9, GAD7, PCL5]))
    answers = data.draw(
        st.lists(
            st.integers(instrument.low, instrument.high),
            min_size=instrument.item_count,
            max_size=instrument.item_count,
        )
    )
    result = instrument.score(answers, config=CONFIG)
    assert 0 <= result.total <= instrument.high * instrument.item_count
    assert result.total == sum(answers)
    assert result.band in {band.name for band in instrument.bands}


@given(st.data())
def test_any_answer_out_of_range_is_refused(data: st.DataObject) -> None:
    instrument = data.draw(st.sampled_from([PHQ9, GAD7, PCL5]))
    answers = data.draw(
        st.lists(
            st.integers(instrument.low, instrument.high),
            min_size=instrument.item_count,
            max_size=instrument.item_count,
        )
    )
    index = data.draw(st.integers(0, instrument.item_count - 1))
    answers[index] = data.draw(
        st.one_of(
            st.integers(max_value=instrument.low - 1), st.integers(min_value=instrument.high + 1)
        )
    )
    with pytest.raises(InstrumentError):
        instrument.score(answers, config=CONFIG)


def test_registry_and_wording() -> None:
    assert [i.key for i in instruments.available()] == ["phq9", "gad7", "pcl5"]
    assert instruments.get("ghq12") is None
    for instrument in instruments.available():
        assert instrument.licence
        assert instrument.attribution
        assert instrument.version
        assert len(instrument.options) == instrument.high - instrument.low + 1
    assert (
        PHQ9.items[8]
        == "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert len(PCL5.items) == 20
