"""Screening instruments: pure scorers (answers in; total, band and flags out) in a registry
a force can extend. Wording that may not be changed is stored verbatim, with its licence."""

from welfare.checkins.instruments.base import Instrument, InstrumentError, Result, ScoringConfig
from welfare.checkins.instruments.registry import available, get, register

__all__ = [
    "Instrument",
    "InstrumentError",
    "Result",
    "ScoringConfig",
    "available",
    "get",
    "register",
]
