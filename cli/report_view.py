"""The trial report as people read it: one renderer for `trial report` and `trial-demo`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.tables import facts_table
from domain.statistics import ProportionEstimate
from facade import TrialReport
from facade.models import EndpointAnalysis, SurvivalEstimate


def rate_words(estimate: ProportionEstimate) -> str:
    if estimate.rate is None:
        return f"none assessed yet ({estimate.successes}/{estimate.total})"
    return (
        f"{estimate.rate:.1%} ({estimate.successes}/{estimate.total}), {estimate.confidence:.0%} CI "
        f"{estimate.ci_low:.1%} to {estimate.ci_high:.1%} (Clopper-Pearson)"
    )


def _grade_counts(counts: dict[int, int]) -> str:
    return ", ".join(f"grade {grade}: {count}" for grade, count in sorted(counts.items())) or "-"


def _analysis_rows(name: str, analysis: EndpointAnalysis) -> list[tuple[str, str | Text]]:
    return [
        (name, f"{analysis.patients} patients, {analysis.assessed} with the outcome known, {analysis.pending} pending"),
        ("  CR rate", rate_words(analysis.cr_rate)),
    ]


def _survival_words(estimate: SurvivalEstimate) -> str:
    if not estimate.patients:
        return "no patient infused yet"
    counted = f"{estimate.events} events, {estimate.censored} censored of {estimate.patients}"
    landmarks = [
        f"day {p.day:g}: {p.survival:.1%} ({estimate.confidence:.0%} CI {p.ci_low:.1%} to {p.ci_high:.1%})"
        for p in estimate.landmarks
    ]
    median = "not reached" if estimate.median_days is None else f"{estimate.median_days:g} days"
    return "; ".join([counted, *landmarks, f"median {median}"])


def report_tables(report: TrialReport) -> list[Table]:
    enrollment, endpoint, toxicity, rule = (
        report.enrollment,
        report.primary_endpoint,
        report.toxicity,
        report.stopping_rule,
    )
    counts = (
        f"{enrollment.screened} screened ({enrollment.screening_attempts} screenings), "
        f"{enrollment.screen_failures} screen failures, {enrollment.enrolled} enrolled, {enrollment.infused} infused"
    )
    by_phase = Table(title=f"Enrollment: {counts}", title_justify="left")
    by_phase.add_column("Phase")
    by_phase.add_column("Patients", justify="right")
    for phase, count in enrollment.by_phase.items():
        by_phase.add_row(phase.value.replace("_", " "), str(count))
    by_phase.add_row(Text("screen failures", style="italic"), str(enrollment.screen_failures))
    for reason, count in enrollment.exits_by_reason.items():
        by_phase.add_row(Text(f"exits: {reason.value.replace('_', ' ')}", style="italic"), str(count))
    for version, count in enrollment.by_protocol_version.items():
        by_phase.add_row(Text(f"on protocol {version}", style="italic"), str(count))
    efficacy = facts_table(
        "Primary endpoint: complete response at 1 year",
        [
            *_analysis_rows("Intention to treat (primary: every enrolled patient)", endpoint.intention_to_treat),
            *_analysis_rows("Per protocol (infused patients)", endpoint.per_protocol),
        ],
    )
    secondary = report.secondary_endpoints
    severe = f"grade {secondary.severe_min_grade} or higher"
    secondary_table = facts_table(
        "Secondary endpoints (from infusion)",
        [
            ("Event-free survival (Kaplan-Meier)", _survival_words(secondary.event_free_survival)),
            ("Overall survival (Kaplan-Meier)", _survival_words(secondary.overall_survival)),
            ("MRD-negative at the day-28 evaluation", rate_words(secondary.mrd_negative_at_day_28)),
            ("CRS, any grade", rate_words(secondary.crs_any_grade)),
            (f"CRS, {severe}", rate_words(secondary.crs_severe)),
            ("ICANS, any grade", rate_words(secondary.icans_any_grade)),
            (f"ICANS, {severe}", rate_words(secondary.icans_severe)),
            ("Molecular recurrences (not EFS events)", str(secondary.molecular_recurrences)),
        ],
    )
    safety = facts_table(
        f"Toxicity: {toxicity.patients} infused patients, each at their highest grade",
        [
            ("CRS", _grade_counts(toxicity.highest_crs_grade)),
            ("ICANS", _grade_counts(toxicity.highest_icans_grade)),
            ("Dose-limiting toxicities", str(toxicity.dose_limiting_toxicities)),
        ],
    )
    stopping = facts_table(
        "Stopping rule",
        [
            ("Status", Text("PAUSED: enrollment stops", style="bold red") if rule.paused else Text("not triggered")),
            ("Toxicities / patients", f"{rule.toxicities} / {rule.patients}"),
            ("Boundary at this size", "-" if rule.boundary is None else str(rule.boundary)),
            ("Explanation", rule.explanation),
        ],
    )
    return [by_phase, efficacy, secondary_table, safety, stopping]


def print_report(out: Console, report: TrialReport) -> None:
    """The title, any verification warning with the patients left out, and the tables."""
    out.print(Text(f"Trial report (protocol {report.protocol_version})", style="bold"))
    if report.verification.warning:
        out.print(Text(f"WARNING: {report.verification.warning}", style="bold red"))
        for patient in report.verification.excluded:
            out.print(Text(f"  {patient.study_id} left out: {'; '.join(patient.problems)}"))
    for table in report_tables(report):
        out.print(table)
