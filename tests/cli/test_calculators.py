"""The staff calculators of `trial`: the protocol's worked examples, --json shapes, bad input, amended protocols."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner, Result

import domain.protocol
from cli.common import USAGE_ERROR_EXIT_CODE, InputProblems, json_shape
from cli.dose_calculator import DoseReport, RenalCheck
from cli.eligibility_calculator import EligibilityReport
from cli.grade_calculators import CrsGradeReport, IcansGradeReport
from cli.main import app
from cli.schedule_calculator import ScheduleReport
from domain.amendment import amend
from domain.dosing import ProductClassification
from domain.protocol import PROTOCOL_V1, TrialProtocol
from domain.schedule import VisitStatus
from tests.domain.examples import screening

runner = CliRunner()
WIDE = {"COLUMNS": "250"}  # no value folded across lines
BIRTH_DATE = "2016-03-10"  # the example child's; it must never be printed
AMENDED_VERSION = "9.9-test"


def run(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin, env=WIDE)


def as_json(*args: str, stdin: str | None = None) -> dict[str, Any]:
    result = run(*args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def flat(text: str) -> str:
    """Table text with its line breaks and padding folded, so a wrapped cell reads as one line."""
    return " ".join(text.replace("│", " ").split())


def screening_file(tmp_path: Path, **overrides: Any) -> str:
    path = tmp_path / "screening.json"
    path.write_text(json.dumps(screening(**overrides).model_dump(mode="json")), encoding="utf-8")
    return str(path)


@pytest.fixture
def amended(monkeypatch: pytest.MonkeyPatch) -> Iterator[TrialProtocol]:
    """A protocol amendment registered for the test only (monkeypatch removes it afterwards)."""
    protocol = amend(
        PROTOCOL_V1,
        AMENDED_VERSION,
        lymphodepletion={
            "fludarabine": {**PROTOCOL_V1.lymphodepletion.fludarabine.model_dump(), "mg_per_m2_per_day": 25}
        },
        cell_dose={"target_cells_per_kg": 3.5e6},
        crs={"fever_min_celsius": 39.5},
        schedule={"chemotherapy_resumption_months": 2},
        eligibility={"min_egfr_ml_min_173m2": 50.0},
    )
    monkeypatch.setitem(domain.protocol.PROTOCOLS, AMENDED_VERSION, protocol)
    yield protocol
    assert AMENDED_VERSION in domain.protocol.PROTOCOLS  # still there while the test ran; removed after


# ---------------------------------------------------------------- the command line itself


def test_the_calculators_are_listed_in_the_help_with_version_and_protocol() -> None:
    result = run("--help")

    assert result.exit_code == 0, result.output
    for command in ("version", "protocol", "dose", "grade", "schedule", "eligibility", "Calculators"):
        assert command in result.output


@pytest.mark.parametrize(
    ("command", "model"),
    [
        (["dose"], DoseReport),
        (["grade", "crs"], CrsGradeReport),
        (["grade", "icans"], IcansGradeReport),
        (["schedule"], ScheduleReport),
        (["eligibility"], EligibilityReport),
    ],
)
def test_each_help_documents_its_json_shape_and_the_protocol_option(command: list[str], model: type[BaseModel]) -> None:
    result = run(*command, "--help")

    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert f"{model.__name__}.model_dump(mode='json')" in text
    assert flat(json_shape(model)) in text
    assert "--protocol-version" in text
    assert "--json" in text


def test_the_json_shape_names_every_field_nested_models_and_enum_values() -> None:
    shape = json_shape(DoseReport)

    for field in DoseReport.model_fields:
        assert field in shape
    assert "renal_suggestion: {crcl_ml_min_173m2, reduction_fraction, reason} or null" in shape
    assert "classification: in_range|below_minimum|above_maximum" in shape
    assert "creatinine_clearance_ml_min_173m2 (or null)" in shape


# ---------------------------------------------------------------- trial dose


def test_dose_follows_the_protocols_worked_example() -> None:
    result = run("dose", "--height-cm", "120", "--weight-kg", "22")

    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "0.856 m²" in text
    assert "25.7 mg/day for 4 days" in text
    assert "428 mg/day for 2 days" in text
    assert "6.6 × 10⁷ viable CAR+ cells" in text
    assert "4.4 × 10⁷ to 8.8 × 10⁷ cells" in text


def test_dose_json_holds_the_worked_example_and_round_trips() -> None:
    document = as_json("dose", "--height-cm", "120", "--weight-kg", "22")

    report = DoseReport.model_validate(document)
    assert report.model_dump(mode="json") == document
    plan = report.lymphodepletion
    assert (plan.bsa_m2, plan.fludarabine_daily_mg, plan.cyclophosphamide_daily_mg) == (0.856, 25.7, 428)
    assert (plan.fludarabine_days, plan.cyclophosphamide_days) == (4, 2)
    cells = report.cell_dose
    assert (cells.target_cells, cells.min_cells, cells.max_cells) == (6.6e7, 4.4e7, 8.8e7)
    assert report.protocol_version == PROTOCOL_V1.version
    assert report.product is None


def test_without_a_creatinine_clearance_no_renal_check_is_made_and_none_assumed() -> None:
    document = as_json("dose", "--height-cm", "120", "--weight-kg", "22")
    text = flat(run("dose", "--height-cm", "120", "--weight-kg", "22").output)

    assert document["renal_check"] == RenalCheck.NOT_MADE
    assert document["creatinine_clearance_ml_min_173m2"] is None
    assert document["lymphodepletion"]["renal_suggestion"] is None
    assert document["lymphodepletion"]["fludarabine_adjusted_daily_mg"] is None
    assert "no renal check was made" in text
    assert "not assumed" in text


def test_a_renal_reduction_is_a_suggestion_from_the_recorded_bsa_never_applied() -> None:
    arguments = ("dose", "--height-cm", "120", "--weight-kg", "22", "--crcl", "55")
    report = DoseReport.model_validate(as_json(*arguments))
    text = flat(run(*arguments).output)

    assert report.renal_check is RenalCheck.REDUCTION_SUGGESTED
    # 30 mg/m² x 0.856 m² x 0.8 = 20.544 -> 20.5 (not 25.7 x 0.8 = 20.56 -> 20.6)
    assert report.lymphodepletion.fludarabine_adjusted_daily_mg == 20.5
    assert report.lymphodepletion.fludarabine_daily_mg == 25.7  # the prescription stays the full dose
    assert "needs the physician's confirmation" in text
    assert "20.5 mg/day instead of 25.7 mg/day" in text
    assert "Not applied" in text
    assert any("physician" in note for note in report.notes)


@pytest.mark.parametrize(
    ("crcl", "check", "adjusted"),
    [
        ("71", RenalCheck.FULL_DOSE, None),
        ("70", RenalCheck.REDUCTION_SUGGESTED, 20.5),  # 30-70: -20 %
        ("30", RenalCheck.REDUCTION_SUGGESTED, 20.5),
        ("29.9", RenalCheck.REDUCTION_SUGGESTED, 12.8),  # below 30: -50 %, 30 x 0.856 x 0.5 = 12.84
    ],
)
def test_the_renal_check_at_its_thresholds(crcl: str, check: RenalCheck, adjusted: float | None) -> None:
    report = DoseReport.model_validate(as_json("dose", "--height-cm", "120", "--weight-kg", "22", "--crcl", crcl))

    assert report.renal_check == check
    assert report.lymphodepletion.fludarabine_adjusted_daily_mg == adjusted
    assert report.creatinine_clearance_ml_min_173m2 == float(crcl)


def test_a_clearance_without_reduction_says_so() -> None:
    text = flat(run("dose", "--height-cm", "120", "--weight-kg", "22", "--crcl", "90").output)

    assert "creatinine clearance 90 mL/min/1.73 m²: no reduction" in text
    assert "SUGGESTION" not in text


@pytest.mark.parametrize(
    ("cells", "classification", "to_infuse", "words"),
    [
        ("9.1e7", ProductClassification.ABOVE_MAXIMUM, 8.8e7, "ABOVE MAXIMUM: infuse 8.8 × 10⁷ cells"),
        ("7e7", ProductClassification.IN_RANGE, 6.6e7, "IN RANGE: infuse 6.6 × 10⁷ cells"),
        ("5e7", ProductClassification.IN_RANGE, 5e7, "IN RANGE: infuse 5 × 10⁷ cells"),
        ("8.8e7", ProductClassification.IN_RANGE, 6.6e7, "IN RANGE: infuse 6.6 × 10⁷ cells"),
        ("4.4e7", ProductClassification.IN_RANGE, 4.4e7, "IN RANGE: infuse 4.4 × 10⁷ cells"),
        ("4.3e7", ProductClassification.BELOW_MINIMUM, 4.3e7, "BELOW MINIMUM, out of specification"),
    ],
)
def test_a_released_product_is_classified_against_the_weights_range(
    cells: str, classification: ProductClassification, to_infuse: float, words: str
) -> None:
    arguments = ("dose", "--height-cm", "120", "--weight-kg", "22", "--product-cells", cells)
    report = DoseReport.model_validate(as_json(*arguments))
    text = flat(run(*arguments).output)

    assert report.product is not None
    assert report.product.classification is classification
    assert report.product.cells_to_infuse == to_infuse
    assert words in text
    if classification is ProductClassification.BELOW_MINIMUM:
        assert "infuse 4.3" not in text  # out of specification: the investigator decides, no dose is given
        assert "investigator" in text


# ---------------------------------------------------------------- trial grade crs | icans


def test_crs_grade_3_with_one_vasopressor_triggers_the_expedited_report() -> None:
    arguments = ("grade", "crs", "--temperature", "39.1", "--hypotension", "--vasopressors", "1")
    report = CrsGradeReport.model_validate(as_json(*arguments))
    text = flat(run(*arguments).output)

    assert report.grading.grade == 3
    assert "hypotension needing one vasopressor: grade 3" in report.grading.reasons
    assert report.expedited_report_due
    assert report.expedited_report_reasons == ("CRS grade 3 (grade 3 or higher): report within 24 hours",)
    assert "CRS grade 3" in text
    assert "DUE within 24 hours" in text
    assert "fever 39.1 °C (at least 38.0 °C)" in text


@pytest.mark.parametrize(
    ("arguments", "grade"),
    [
        (["--temperature", "38.0"], 1),
        (["--temperature", "37.9"], 0),
        (["--temperature", "39", "--oxygen", "nasal_cannula", "--flow", "4"], 2),
        (["--temperature", "39", "--oxygen", "Nasal-Cannula", "--flow", "6.5"], 3),
        (["--temperature", "37", "--hypotension"], 0),
        (
            ["--temperature", "37", "--masked-by", "tocilizumab", "--masked-dose", "8", "--masked-hours-before", "30"],
            0,
        ),
        (
            [
                "--temperature",
                "37",
                "--hypotension",
                "--masked-by",
                "Dexamethasone",
                "--masked-dose",
                "5",
                "--masked-hours-before",
                "72",
            ],
            2,
        ),
        (
            [
                "--temperature",
                "37",
                "--hypotension",
                "--masked-by",
                "tocilizumab",
                "--masked-dose",
                "8",
                "--masked-hours-before",
                "73",
            ],
            0,
        ),
        (["--temperature", "39", "--oxygen", "high_flow_nasal_cannula", "--flow", "5"], 2),
        (["--temperature", "39", "--hypotension", "--vasopressors", "2", "--oxygen", "bipap"], 4),
    ],
)
def test_crs_grades_from_the_findings_and_the_report_only_from_grade_3(arguments: list[str], grade: int) -> None:
    report = CrsGradeReport.model_validate(as_json("grade", "crs", *arguments))

    assert report.grading.grade == grade
    assert report.expedited_report_due is (grade >= PROTOCOL_V1.safety.expedited_min_crs_grade)


def test_a_grade_below_3_needs_no_expedited_report() -> None:
    result = run("grade", "crs", "--temperature", "38.5")

    assert result.exit_code == 0, result.output
    assert "CRS grade 1" in flat(result.output)
    assert "not needed" in result.output


def test_icans_by_capd_for_a_9_year_old() -> None:
    report = IcansGradeReport.model_validate(as_json("grade", "icans", "--age", "9", "--capd", "10"))
    text = flat(run("grade", "icans", "--age", "9", "--capd", "10").output)

    assert report.scale == "CAPD"
    assert report.findings.capd_score == 10
    assert report.grading.grade == 3
    assert "CAPD score 10 (9 or more): grade 3" in report.grading.reasons
    assert report.expedited_report_due
    assert "ICANS (CAPD, age 9) grade 3" in text
    assert "DUE within 24 hours" in text


@pytest.mark.parametrize(
    ("arguments", "scale", "grade"),
    [
        (["--age", "9", "--capd", "4"], "CAPD", 1),
        (["--age", "9", "--capd", "4", "--consciousness", "awakens_to_voice"], "CAPD", 2),
        (["--age", "9", "--unable"], "CAPD", 4),
        (["--age", "12", "--ice", "10"], "ICE", 0),
        (["--age", "14", "--ice", "5"], "ICE", 2),
        (["--age", "14", "--ice", "10", "--seizure", "resolving_rapidly"], "ICE", 3),
        (["--age", "14", "--unable", "--edema", "diffuse"], "ICE", 4),
    ],
)
def test_icans_grades_by_the_scale_for_the_age(arguments: list[str], scale: str, grade: int) -> None:
    report = IcansGradeReport.model_validate(as_json("grade", "icans", *arguments))

    assert report.scale == scale
    assert report.grading.grade == grade
    assert report.expedited_report_due is (grade >= PROTOCOL_V1.safety.expedited_min_icans_grade)


def test_grade_without_a_kind_lists_crs_and_icans() -> None:
    result = run("grade")

    assert "crs" in result.output
    assert "icans" in result.output


# ---------------------------------------------------------------- trial schedule


def test_the_schedule_follows_the_protocols_example() -> None:
    report = ScheduleReport.model_validate(as_json("schedule", "--infusion-date", "2026-01-01"))

    targets = {entry.visit.code: entry.visit.target_date for entry in report.visits}
    assert len(report.visits) == 30
    assert targets["D7"] == date(2026, 1, 8)
    assert targets["D30"] == date(2026, 1, 31)
    assert targets["M12"] == date(2027, 1, 1)
    assert targets["MRD"] == date(2026, 1, 29)
    assert targets["CHEMO"] == date(2026, 2, 1)
    assert targets["Y15"] == date(2041, 1, 1)
    assert [entry.visit.target_date for entry in report.visits] == sorted(targets.values())
    assert all(entry.status is None for entry in report.visits)
    assert report.efficacy_follow_up_end == date(2031, 1, 1)


def test_the_schedule_table_shows_every_visit_with_its_window() -> None:
    result = run("schedule", "--infusion-date", "2026-01-01")

    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "D7 day 7 first month 2026-01-08 2026-01-07 2026-01-09" in text
    assert "M12 month 12 every 3 months 2027-01-01 2026-12-18 2027-01-15" in text
    assert "Y15 year 15 long-term follow-up 2041-01-01" in text
    assert "MRD evaluation (day 28)" in text
    assert "chemotherapy resumption (month 1)" in text
    assert "Status on" not in text


def test_the_schedule_on_a_date_gives_each_visits_status() -> None:
    arguments = ("schedule", "--infusion-date", "2026-01-01", "--on", "2026-03-01")
    report = ScheduleReport.model_validate(as_json(*arguments))
    text = flat(run(*arguments).output)

    status = {entry.visit.code: entry.status for entry in report.visits}
    assert report.status_on == date(2026, 3, 1)
    assert status["D7"] is VisitStatus.MISSED
    assert status["M2"] is VisitStatus.OPEN
    assert status["M3"] is VisitStatus.NOT_YET_OPEN
    assert "Status on 2026-03-01" in text
    assert "M2 month 2 monthly 2026-03-01 2026-02-22 2026-03-08 2026-02-15 open" in text


def test_the_schedule_json_round_trips() -> None:
    document = as_json("schedule", "--infusion-date", "2026-01-31", "--on", "2026-03-06")

    assert ScheduleReport.model_validate(document).model_dump(mode="json") == document
    month_1 = next(entry for entry in document["visits"] if entry["visit"]["code"] == "CHEMO")
    assert month_1["visit"]["target_date"] == "2026-02-28"  # 31 January + 1 month: the month's last day
    assert month_1["status"] == "closing_soon"  # the window closes 2026-03-07


# ---------------------------------------------------------------- trial eligibility


def test_an_eligible_child_is_eligible(tmp_path: Path) -> None:
    result = run("eligibility", "--file", screening_file(tmp_path))

    assert result.exit_code == 0, result.output
    assert "ELIGIBLE: every inclusion criterion is met" in flat(result.output)
    assert BIRTH_DATE not in result.output


def test_every_failed_criterion_is_listed_with_its_reason(tmp_path: Path) -> None:
    path = screening_file(tmp_path, serum_creatinine_mg_dl=0.9, performance_score=40, hiv_positive=True, pregnant=True)

    result = run("eligibility", "--file", path)
    report = EligibilityReport.model_validate(as_json("eligibility", "--file", path))

    assert result.exit_code == 0, result.output  # a screen failure is a result, not an error
    text = flat(result.output)
    assert "NOT ELIGIBLE: 4 criteria failed" in text
    assert "inclusion egfr eGFR 55.1 mL/min/1.73 m² is below the minimum of 60" in text
    assert "inclusion performance Lansky score 40 is below the minimum of 50" in text
    assert "exclusion hiv HIV positive" in text
    assert "exclusion pregnancy pregnant" in text
    assert not report.result.eligible
    assert [failed.code for failed in report.result.failed] == ["performance", "egfr", "hiv", "pregnancy"]
    assert BIRTH_DATE not in result.output


def test_eligibility_reads_stdin_and_its_json_never_holds_the_birth_date(tmp_path: Path) -> None:
    text = Path(screening_file(tmp_path)).read_text(encoding="utf-8")

    result = run("eligibility", "--file", "-", "--json", stdin=text)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert EligibilityReport.model_validate(document).model_dump(mode="json") == document
    assert document["result"]["eligible"] is True
    assert document["result"]["age_years"] == 9
    assert BIRTH_DATE not in result.output
    assert "date_of_birth" not in result.output


# ---------------------------------------------------------------- bad input: exit 2, every problem named

BAD_INPUT = [
    pytest.param(
        ["dose", "--height-cm", "-5", "--weight-kg", "abc", "--crcl", "nan"],
        [
            "--height-cm: must be greater than 0; given '-5'",
            "--weight-kg: must be a number; given 'abc'",
            "--crcl: must be a finite number; given 'nan'",
        ],
        id="dose-numbers",
    ),
    pytest.param(
        ["dose"],
        ["--height-cm: is required", "--weight-kg: is required"],
        id="dose-missing",
    ),
    pytest.param(
        ["dose", "--height-cm", "120", "--weigth-kg", "22", "--protocol-version", "0.9", "stray"],
        [
            "--weigth-kg: no such option (did you mean --weight-kg?)",
            "unexpected argument 'stray'",
            "--protocol-version: unknown protocol version '0.9'; known: 1.0",
            "--weight-kg: is required",
        ],
        id="dose-unknown-option-and-version",
    ),
    pytest.param(
        ["dose", "--height-cm", "400", "--weight-kg", "22", "--product-cells", "0"],
        ["--height-cm: must be at most 250; given '400'", "--product-cells: must be greater than 0; given '0'"],
        id="dose-out-of-range",
    ),
    pytest.param(
        ["grade", "crs", "--temperature", "39", "--vasopressors", "1", "--oxygen", "tent"],
        [
            "--oxygen: must be one of: none, nasal_cannula, blow_by",
            "given 'tent'",
            "vasopressors are recorded but hypotension is not",
        ],
        id="crs-unknown-enum-and-inconsistency",
    ),
    pytest.param(
        ["grade", "crs", "--temperature", "hot", "--vasopressors", "-1", "--oxygen", "nasal_cannula"],
        [
            "--temperature: must be a number; given 'hot'",
            "--vasopressors: must be at least 0; given '-1'",
            "oxygen by nasal cannula needs its flow rate in L/min",
        ],
        id="crs-numbers-and-missing-flow",
    ),
    pytest.param(
        ["grade", "crs", "--temperature", "39", "--flow", "3"],
        ["an oxygen flow rate is recorded but no oxygen support is"],
        id="crs-flow-without-oxygen",
    ),
    pytest.param(
        ["grade", "icans", "--age", "14", "--capd", "4", "--seizure", "fits"],
        ["--seizure: must be one of: none, resolving_rapidly, prolonged_or_repetitive", "score the ICE, not the CAPD"],
        id="icans-capd-for-a-14-year-old",
    ),
    pytest.param(
        ["grade", "icans", "--age", "9"],
        ["record the CAPD score (0–32) or that the patient was unable to perform it"],
        id="icans-no-score",
    ),
    pytest.param(
        ["grade", "icans", "--age", "-1", "--ice", "11", "--capd", "3"],
        ["--age: must be at least 0; given '-1'", "--ice: must be at most 10; given '11'"],
        id="icans-out-of-range",
    ),
    pytest.param(
        ["grade", "icans", "--age", "9", "--capd", "3", "--unable"],
        ["a score is recorded but so is 'unable to perform the assessment'"],
        id="icans-score-and-unable",
    ),
    pytest.param(
        ["schedule", "--infusion-date", "2026-02-30", "--on", "tomorrow"],
        [
            "--infusion-date: must be a real date written YYYY-MM-DD (day value is outside expected range)",
            "--on: must be a real date written YYYY-MM-DD; given 'tomorrow'",
        ],
        id="schedule-dates",
    ),
    pytest.param(["schedule"], ["--infusion-date: is required"], id="schedule-missing"),
    pytest.param(["eligibility"], ["--file: is required"], id="eligibility-no-file"),
    pytest.param(
        ["eligibility", "--file", "/no/such/screening.json"],
        ["--file: there is no file '/no/such/screening.json'"],
        id="eligibility-missing-file",
    ),
]


def assert_every_problem_named(result: Result, expected: list[str]) -> None:
    assert result.exit_code == USAGE_ERROR_EXIT_CODE, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""  # nothing calculated
    assert f"{len(result.stderr.splitlines()) - 1} problem" in result.stderr
    for fragment in expected:
        assert fragment in result.stderr


@pytest.mark.parametrize(("arguments", "expected"), BAD_INPUT)
def test_bad_input_exits_2_naming_every_problem(arguments: list[str], expected: list[str]) -> None:
    assert_every_problem_named(run(*arguments), expected)


@pytest.mark.parametrize(("arguments", "expected"), BAD_INPUT)
def test_bad_input_with_json_lists_every_problem_as_json_on_stderr(arguments: list[str], expected: list[str]) -> None:
    result = run(*arguments, "--json")

    assert result.exit_code == USAGE_ERROR_EXIT_CODE, result.output
    assert result.stdout == ""
    problems = InputProblems.model_validate_json(result.stderr).problems
    lines = [f"{problem.field}: {problem.message}" if problem.field else problem.message for problem in problems]
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)


def screening_text(**changes: Any) -> str:
    document = screening().model_dump(mode="json")
    document.update(changes)
    return json.dumps({name: value for name, value in document.items() if value is not ...})


BAD_SCREENING = [
    pytest.param('{"screening_date": "2026-01-05",', ["--file: not valid JSON", "line 1"], id="malformed-json"),
    pytest.param("", ["the screening file is empty"], id="empty"),
    pytest.param("[1, 2]", ["must hold one JSON object"], id="not-an-object"),
    pytest.param(
        screening_text(risk_group="medium", performance_score=75, height_cm=-1, pregnant="maybe"),
        [
            "risk_group: must be one of: low, intermediate, high",
            "performance_score: must be a multiple of 10",
            "height_cm: must be greater than 0",
            "pregnant: must be true or false",
        ],
        id="bad-values",
    ),
    pytest.param(
        screening_text(date_of_birth=..., weight_kg=..., dob=BIRTH_DATE, wieght_kg=22),
        [
            "date_of_birth: is required",
            "weight_kg: is required",
            "dob: is not a known field",
            "wieght_kg: is not a known field (did you mean weight_kg?)",
        ],
        id="wrong-field-names",
    ),
    pytest.param(
        screening_text(b_all_diagnosis_confirmed=..., end_of_induction_marrow_blasts_percent=...),
        ["b_all_diagnosis_confirmed: is required", "end_of_induction_marrow_blasts_percent: is required"],
        id="induction-results-left-out",
    ),
    pytest.param(
        screening_text(date_of_birth="2016-02-30"),
        ["date_of_birth: must be a real date written YYYY-MM-DD (day value is outside expected range)"],
        id="impossible-birth-date",
    ),
    pytest.param(
        screening_text(date_of_birth="2026-02-01", lvef_percent=None, shortening_fraction_percent=None),
        [
            "the date of birth must be before the screening date",
            "record the LVEF or the shortening fraction: at least one is needed",
        ],
        id="inconsistent",
    ),
    pytest.param(
        screening_text()[:-1] + ', "risk_group": "high"}',
        ["risk_group: is given more than once"],
        id="repeated-field",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SCREENING)
def test_bad_screening_data_exits_2_naming_every_problem_and_never_the_birth_date(
    text: str, expected: list[str]
) -> None:
    result = run("eligibility", "--file", "-", stdin=text)

    assert_every_problem_named(result, expected)
    assert BIRTH_DATE not in result.output
    assert "2016-02-30" not in result.output
    assert "2026-02-01" not in result.output


def test_bad_screening_data_as_json_never_holds_the_birth_date() -> None:
    result = run("eligibility", "--file", "-", "--json", stdin=screening_text(risk_group="medium", dob=BIRTH_DATE))

    assert result.exit_code == USAGE_ERROR_EXIT_CODE
    fields = {problem.field for problem in InputProblems.model_validate_json(result.stderr).problems}
    assert fields == {"risk_group", "dob"}
    assert BIRTH_DATE not in result.output


# ---------------------------------------------------------------- an amended protocol


def test_an_amended_protocol_changes_the_doses(amended: TrialProtocol) -> None:
    current = DoseReport.model_validate(as_json("dose", "--height-cm", "120", "--weight-kg", "22"))
    report = DoseReport.model_validate(
        as_json("dose", "--height-cm", "120", "--weight-kg", "22", "--protocol-version", AMENDED_VERSION)
    )

    assert report.protocol_version == AMENDED_VERSION
    assert current.lymphodepletion.fludarabine_daily_mg == 25.7
    assert report.lymphodepletion.fludarabine_daily_mg == 21.4  # 25 mg/m² x 0.856 m²
    assert report.cell_dose.target_cells == 7.7e7  # 3.5 x 10⁶/kg x 22 kg
    text = flat(run("dose", "--height-cm", "120", "--weight-kg", "22", "--protocol-version", AMENDED_VERSION).output)
    assert f"protocol {AMENDED_VERSION}" in text
    assert "21.4 mg/day for 4 days (25 mg/m²/day)" in text


def test_an_amended_protocol_changes_the_crs_grade(amended: TrialProtocol) -> None:
    arguments = ("grade", "crs", "--temperature", "39.1")

    assert CrsGradeReport.model_validate(as_json(*arguments)).grading.grade == 1
    graded = CrsGradeReport.model_validate(as_json(*arguments, "--protocol-version", AMENDED_VERSION))
    assert graded.grading.grade == 0  # the amended fever threshold is 39.5 °C
    assert "CRS needs at least 39.5 °C" in graded.grading.reasons[0]


def test_an_amended_protocol_changes_the_schedule(amended: TrialProtocol) -> None:
    arguments = ("schedule", "--infusion-date", "2026-01-01", "--protocol-version", AMENDED_VERSION)
    report = ScheduleReport.model_validate(as_json(*arguments))

    resumption = next(entry.visit for entry in report.visits if entry.visit.code == "CHEMO")
    assert resumption.target_date == date(2026, 3, 1)
    assert "chemotherapy resumption (month 2)" in flat(run(*arguments).output)


def test_an_amended_protocol_changes_eligibility(amended: TrialProtocol, tmp_path: Path) -> None:
    path = screening_file(tmp_path, serum_creatinine_mg_dl=0.9)  # eGFR 55.1

    assert not EligibilityReport.model_validate(as_json("eligibility", "--file", path)).result.eligible
    report = EligibilityReport.model_validate(
        as_json("eligibility", "--file", path, "--protocol-version", AMENDED_VERSION)
    )
    assert report.result.eligible
    assert report.protocol_version == AMENDED_VERSION


def test_the_amended_version_is_gone_after_its_test() -> None:
    result = run("dose", "--height-cm", "120", "--weight-kg", "22", "--protocol-version", AMENDED_VERSION)

    assert result.exit_code == USAGE_ERROR_EXIT_CODE
    assert f"unknown protocol version '{AMENDED_VERSION}'" in result.stderr
