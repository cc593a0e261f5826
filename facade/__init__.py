"""The one client facade of the trial, used by the CLI and the HTTP API alike.

Its names are imported when first used (PEP 562): importing a light module of the package (facade.plain_words,
facade.errors) must not pull Temporal, SQLAlchemy and pandas into a CLI command that answers at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.lazy_names import lazy_names

if TYPE_CHECKING:
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
    from records import VerificationReport
    from records.deliveries import DeliveryRecord

# name -> the module it lives in (answers the facade passes on from the trial record come from records/).
_HOMES: dict[str, str] = {
    "AuditEntry": "facade.audit",
    "AuditFormat": "facade.audit",
    "connect_trial_client": "facade.connect",
    "open_trial_client": "facade.connect",
    **dict.fromkeys(
        (
            "AlreadyEnrolled",
            "CommandRefused",
            "EnrollmentNotTaken",
            "JourneyClosed",
            "NotPermitted",
            "TrialError",
            "UnknownPatient",
        ),
        "facade.errors",
    ),
    **dict.fromkeys(
        (
            "EndpointAnalysis",
            "EnrollmentResult",
            "EnrollmentSummary",
            "PatientListing",
            "PrimaryEndpointReport",
            "SecondaryEndpoints",
            "SurvivalEstimate",
            "SurvivalPoint",
            "Timeline",
            "ToxicitySummary",
            "TrialReport",
        ),
        "facade.models",
    ),
    "build_report": "facade.report",
    "TrialClient": "facade.trial_client",
    "VerificationReport": "records",
    "DeliveryRecord": "records.deliveries",
}

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


__getattr__ = lazy_names(__name__, _HOMES, globals())
