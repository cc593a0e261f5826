"""The report reads only verified data: a patient whose chain or summary fails verification is left out of every
count (the stopping rule too) and named, with a warning the report shows."""

from __future__ import annotations

from collections.abc import Sequence

from facade.models import ExcludedPatient, ReportVerification
from records import PatientSummary, VerificationReport


def verified_summaries(
    summaries: Sequence[PatientSummary], report: VerificationReport
) -> tuple[list[PatientSummary], ReportVerification]:
    """The summaries of patients with no verification problem, and what was left out and why."""
    failing: dict[str, list[str]] = {}
    for problem in report.problems:
        failing.setdefault(problem.study_id, []).append(problem.description)
    kept = [summary for summary in summaries if summary.study_id not in failing]
    excluded = tuple(
        ExcludedPatient(study_id=study_id, problems=tuple(problems)) for study_id, problems in sorted(failing.items())
    )
    warnings = []
    if excluded:
        names = ", ".join(patient.study_id for patient in excluded)
        warnings.append(
            f"{len(excluded)} patient(s) left out of every count and the stopping rule: their trial record failed "
            f"verification ({names}); run `trial verify`"
        )
    if report.checkpoint_problems:
        warnings.append("the checkpoint file failed verification: " + "; ".join(report.checkpoint_problems))
    return kept, ReportVerification(
        verified=not warnings, excluded=excluded, warning=" ".join(warnings) if warnings else None
    )
