"""The one client facade of the trial, used by the CLI and the HTTP API alike."""

from facade.audit import AuditEntry, AuditFormat
from facade.connect import connect_trial_client, open_trial_client
from facade.errors import (
    AlreadyEnrolled,
    CommandRefused,
    EnrollmentNotTaken,
    JourneyClosed,
    NotPermitted,
    TrialError,
    UnknownPatient,
)
from facade.models import (
    EndpointAnalysis,
    EnrollmentResult,
    EnrollmentSummary,
    PatientListing,
    PrimaryEndpointReport,
    SecondaryEndpoints,
    SurvivalEstimate,
    SurvivalPoint,
    Timeline,
    ToxicitySummary,
    TrialReport,
)
from facade.report import build_report
from facade.trial_client import TrialClient

# Answers the facade passes on from the trial record as they are.
from records import VerificationReport
from records.deliveries import DeliveryRecord

__all__ = [
    "AlreadyEnrolled",
    "AuditEntry",
    "AuditFormat",
    "CommandRefused",
    "DeliveryRecord",
    "EndpointAnalysis",
    "EnrollmentNotTaken",
    "EnrollmentResult",
    "EnrollmentSummary",
    "JourneyClosed",
    "NotPermitted",
    "PatientListing",
    "PrimaryEndpointReport",
    "SecondaryEndpoints",
    "SurvivalEstimate",
    "SurvivalPoint",
    "Timeline",
    "ToxicitySummary",
    "TrialClient",
    "TrialError",
    "TrialReport",
    "UnknownPatient",
    "VerificationReport",
    "build_report",
    "connect_trial_client",
    "open_trial_client",
]
