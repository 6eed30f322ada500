"""PHQ-9 (Patient Health Questionnaire, depression). Developed by Drs Robert L. Spitzer,
Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer
Inc. No permission is required to reproduce, translate, display or distribute; the
wording must not be changed."""

from __future__ import annotations

from collections.abc import Sequence

from welfare.checkins.instruments.base import Band, Instrument, ScoringConfig

CRITICAL = "self_harm_thoughts"


def _extra(
    answers: Sequence[int], total: int, previous: int | None, config: ScoringConfig
) -> tuple[str, ...]:
    # Item 9 above 0 is urgent whatever the total.
    return (CRITICAL,) if answers[8] > 0 else ()


PHQ9 = Instrument(
    key="phq9",
    name="PHQ-9",
    version="PHQ-9 (Pfizer, 1999)",
    prompt="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
        "fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    options=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    low=0,
    high=3,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately_severe"),
        Band(20, 27, "severe"),
    ),
    licence="Free to use without permission; the wording must not be changed.",
    attribution=(
        "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
        "with an educational grant from Pfizer Inc."
    ),
    score_extra=_extra,
    critical_flags=frozenset({CRITICAL}),
)
