"""The one client facade of the trial, used by the CLI and the HTTP API alike."""

from facade.connect import connect_trial_client, open_trial_client
from facade.errors import AlreadyEnrolled, CommandRefused, JourneyClosed, TrialError, UnknownPatient
from facade.models import (
    EnrollmentResult,
    EnrollmentSummary,
    PatientListing,
    PrimaryEndpointReport,
    Timeline,
    ToxicitySummary,
    TrialReport,
)
from facade.report import build_report
from facade.trial_client import TrialClient

__all__ = [
    "AlreadyEnrolled",
    "CommandRefused",
    "EnrollmentResult",
    "EnrollmentSummary",
    "JourneyClosed",
    "PatientListing",
    "PrimaryEndpointReport",
    "Timeline",
    "ToxicitySummary",
    "TrialClient",
    "TrialError",
    "TrialReport",
    "UnknownPatient",
    "build_report",
    "connect_trial_client",
    "open_trial_client",
]
