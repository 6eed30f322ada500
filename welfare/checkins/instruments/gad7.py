"""GAD-7 (Generalized Anxiety Disorder 7-item scale). Developed by Drs Robert L. Spitzer,
Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer
Inc. Free to use; the wording must not be changed."""

from __future__ import annotations

from welfare.checkins.instruments.base import Band, Instrument

GAD7 = Instrument(
    key="gad7",
    name="GAD-7",
    version="GAD-7 (Pfizer, 2006)",
    prompt="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    options=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    low=0,
    high=3,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 21, "severe"),
    ),
    licence="Free to use without permission; the wording must not be changed.",
    attribution=(
        "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
        "with an educational grant from Pfizer Inc."
    ),
)
