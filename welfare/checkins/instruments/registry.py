"""The installed instruments. A force adds one by registering it at start-up and naming it in
SCREENING_INSTRUMENTS; GHQ-12 is commercial and is not shipped."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from welfare.checkins.instruments.base import Band, Instrument
from welfare.checkins.instruments.gad7 import GAD7
from welfare.checkins.instruments.pcl5 import PCL5
from welfare.checkins.instruments.phq9 import PHQ9

_REGISTRY: dict[str, Instrument] = {i.key: i for i in (PHQ9, GAD7, PCL5)}


def register(instrument: Instrument) -> None:
    _REGISTRY[instrument.key] = instrument


def _configured(instrument: Instrument) -> Instrument:
    """PCL-5's bands follow the configured cut-off (31-38 in the literature; 33 by default)."""
    if instrument.key != "pcl5":
        return instrument
    cutoff = settings.SCREENING_CUTOFFS["pcl5"]
    return replace(
        instrument, bands=(Band(0, cutoff - 1, "below_cutoff"), Band(cutoff, 80, "above_cutoff"))
    )


def available() -> list[Instrument]:
    return [
        _configured(_REGISTRY[key]) for key in settings.SCREENING_INSTRUMENTS if key in _REGISTRY
    ]


def get(key: str) -> Instrument | None:
    if key not in settings.SCREENING_INSTRUMENTS or key not in _REGISTRY:
        return None
    return _configured(_REGISTRY[key])
