"""Response (CR, CRi, MRD) and marrow relapse: worked examples and both sides of every threshold."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.amendment import amend
from domain.protocol import PROTOCOL_V1, ResponseCriteria
from domain.response import (
    DiseaseOutsideMarrow,
    ExtramedullaryFinding,
    MarrowAssessment,
    MrdResult,
    OtherDiseaseTest,
    RelapseAssessment,
    ResponseAssessment,
    ResponseCategory,
    assess_relapse,
    classify_response,
    confirm_molecular_recurrence,
    is_mrd_negative,
)
from tests.domain.examples import marrow

CRITERIA = PROTOCOL_V1.response
CR = ResponseCategory.CR
CRI = ResponseCategory.CRI
NONE = ResponseCategory.NO_REMISSION


def pcr(percent: float) -> OtherDiseaseTest:
    return OtherDiseaseTest(method="pcr", leukemia_percent=percent)


def flow(percent: float) -> OtherDiseaseTest:
    return OtherDiseaseTest(method="flow_cytometry", leukemia_percent=percent)


def fish(percent: float) -> OtherDiseaseTest:
    return OtherDiseaseTest(method="cytogenetics_fish", leukemia_percent=percent)


# ---------------------------------------------------------------- CR, CRi, MRD


@pytest.mark.parametrize(
    ("overrides", "category", "mrd_negative"),
    [
        pytest.param({}, CR, True, id="CR, counts recovered, MRD negative"),
        # How these children enter: morphologic CR with positive MRD.
        pytest.param({"mrd_flow_percent": 0.05}, CR, False, id="protocol: morphologic CR, MRD positive"),
        pytest.param({"marrow_blasts_percent": 4.99}, CR, True, id="blasts 4.99 %: CR"),
        pytest.param({"marrow_blasts_percent": 5.0}, NONE, True, id="blasts 5.0 %: no remission"),
        pytest.param({"marrow_blasts_percent": 0.0}, CR, True, id="no blasts at all"),
        pytest.param({"neutrophils_10e9_per_l": 1.0}, CR, True, id="ANC 1.0: CR"),
        pytest.param({"neutrophils_10e9_per_l": 0.99}, CRI, True, id="ANC 0.99: CRi"),
        pytest.param({"platelets_10e9_per_l": 100.0}, CR, True, id="platelets 100: CR"),
        pytest.param({"platelets_10e9_per_l": 99.0}, CRI, True, id="platelets 99: CRi"),
        pytest.param({"platelets_10e9_per_l": 99.9}, CRI, True, id="platelets 99.9: CRi"),
        pytest.param(
            {"neutrophils_10e9_per_l": 0.2, "platelets_10e9_per_l": 20.0},
            CRI,
            True,
            id="both counts low: CRi",
        ),
        pytest.param({"circulating_blasts": True}, NONE, True, id="circulating blasts: no remission"),
        pytest.param({"extramedullary_disease": True}, NONE, True, id="extramedullary disease: no remission"),
        pytest.param(
            {"marrow_blasts_percent": 40.0, "neutrophils_10e9_per_l": 0.1, "mrd_flow_percent": 38.0},
            NONE,
            False,
            id="refractory marrow",
        ),
        pytest.param({"mrd_flow_percent": 0.0099}, CR, True, id="MRD 0.0099 %: negative"),
        pytest.param({"mrd_flow_percent": 0.01}, CR, False, id="MRD 0.01 %: positive"),
        pytest.param({"mrd_flow_percent": 0.0}, CR, True, id="MRD undetectable"),
        pytest.param({"mrd_flow_percent": None}, CR, None, id="MRD not measured"),
        pytest.param({"neutrophils_10e9_per_l": 0.5, "mrd_flow_percent": 0.02}, CRI, False, id="CRi with positive MRD"),
    ],
)
def test_classify_response(overrides: dict[str, Any], category: ResponseCategory, mrd_negative: bool | None) -> None:
    result = classify_response(marrow(**overrides), CRITERIA)
    assert result.category is category
    assert result.mrd_negative is mrd_negative


def test_cr_reasons_name_every_criterion_with_its_value() -> None:
    assert classify_response(marrow(), CRITERIA) == ResponseAssessment(
        category=CR,
        mrd_negative=True,
        reasons=(
            "complete remission (CR)",
            "marrow blasts 0.5 % (below 5.0 %)",
            "no circulating blasts",
            "no extramedullary disease",
            "neutrophils 1.8 x 10⁹/L (at least 1.0)",
            "platelets 150.0 x 10⁹/L (at least 100.0)",
            "MRD 0.001 % by flow cytometry: negative (below 0.01 %)",
        ),
    )


def test_cri_reasons_say_which_count_has_not_recovered() -> None:
    result = classify_response(marrow(neutrophils_10e9_per_l=0.99, mrd_flow_percent=0.01), CRITERIA)
    assert result.reasons[0] == "complete remission with incomplete count recovery (CRi)"
    assert "neutrophils 0.99 x 10⁹/L (below 1.0)" in result.reasons
    assert "platelets 150.0 x 10⁹/L (at least 100.0)" in result.reasons
    assert result.reasons[-1] == "MRD 0.01 % by flow cytometry: positive (0.01 % or more)"


def test_no_remission_names_only_what_failed() -> None:
    result = classify_response(marrow(marrow_blasts_percent=5.0, extramedullary_disease=True), CRITERIA)
    assert result.reasons == (
        "no remission",
        "marrow blasts 5.0 % (5.0 % or more)",
        "extramedullary disease present",
        "MRD 0.001 % by flow cytometry: negative (below 0.01 %)",
    )


def test_values_just_below_a_threshold_never_read_as_the_threshold() -> None:
    reasons = classify_response(marrow(marrow_blasts_percent=4.99, mrd_flow_percent=0.00001), CRITERIA).reasons
    assert "marrow blasts 4.99 % (below 5.0 %)" in reasons
    assert "MRD 0.00001 % by flow cytometry: negative (below 0.01 %)" in reasons


def test_mrd_not_measured_is_said_so() -> None:
    assert classify_response(marrow(mrd_flow_percent=None), CRITERIA).reasons[-1] == (
        "MRD by flow cytometry not measured"
    )


@pytest.mark.parametrize(
    ("mrd", "negative"),
    [(0.0, True), (0.0099, True), (0.00999, True), (0.01, False), (0.0101, False), (5.0, False)],
)
def test_is_mrd_negative_boundary(mrd: float, negative: bool) -> None:
    assert is_mrd_negative(mrd, CRITERIA) is negative


@pytest.mark.parametrize("mrd", [-0.001, 100.1, math.nan, math.inf])
def test_is_mrd_negative_refuses_impossible_values(mrd: float) -> None:
    with pytest.raises(ValueError, match="MRD must be a percentage"):
        is_mrd_negative(mrd, CRITERIA)


def test_amended_criteria_move_the_thresholds() -> None:
    amended = amend(
        PROTOCOL_V1,
        "1.1",
        response={"cr_min_platelets_10e9_per_l": 50.0, "mrd_negative_below_percent": 0.001},
    ).response
    low_platelets = marrow(platelets_10e9_per_l=60.0, mrd_flow_percent=0.005)
    assert classify_response(low_platelets, CRITERIA).category is CRI
    assert classify_response(low_platelets, CRITERIA).mrd_negative is True
    under_amendment = classify_response(low_platelets, amended)
    assert under_amendment.category is CR
    assert under_amendment.mrd_negative is False
    assert "platelets 60.0 x 10⁹/L (at least 50.0)" in under_amendment.reasons


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("marrow_blasts_percent", -0.1),
        ("marrow_blasts_percent", 100.1),
        ("marrow_blasts_percent", math.nan),
        ("neutrophils_10e9_per_l", -0.1),
        ("neutrophils_10e9_per_l", math.inf),
        ("platelets_10e9_per_l", -1.0),
        ("platelets_10e9_per_l", math.nan),
        ("mrd_flow_percent", -0.01),
        ("mrd_flow_percent", 100.5),
        ("mrd_flow_percent", math.inf),
    ],
)
def test_marrow_assessment_refuses_impossible_values(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        marrow(**{field: value})


def test_marrow_assessment_is_frozen_and_strict() -> None:
    assessment = marrow()
    with pytest.raises(ValidationError):
        assessment.marrow_blasts_percent = 9.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        marrow(blasts=3.0)


# ---------------------------------------------------------------- relapse


@pytest.mark.parametrize(
    ("blasts", "tests", "relapse"),
    [
        pytest.param(25.0, [], True, id="25 % alone: relapse"),
        pytest.param(24.9, [], False, id="24.9 % alone: no relapse"),
        pytest.param(100.0, [], True, id="100 %"),
        pytest.param(24.9, [flow(2.0)], True, id="24.9 % with one test"),
        pytest.param(5.0, [pcr(1.0)], True, id="5 % with one test at 1.0 %"),
        pytest.param(5.0, [pcr(0.99)], False, id="5 % with one test at 0.99 %"),
        pytest.param(5.0, [], False, id="5 % with no test"),
        # The worked example of the journey tests: 8 % blasts, PCR 3 %.
        pytest.param(8.0, [pcr(3.0)], True, id="8 % with PCR 3 %"),
        pytest.param(4.99, [pcr(1.0)], False, id="4.99 % with one test: needs two"),
        pytest.param(4.99, [pcr(1.0), flow(1.0)], True, id="4.99 % with two tests"),
        pytest.param(1.0, [pcr(1.0), flow(1.0)], True, id="1 % with two tests"),
        pytest.param(1.0, [pcr(5.0)], False, id="1 % with one test"),
        pytest.param(1.0, [pcr(5.0), flow(0.99)], False, id="1 % with one test and one below 1 %"),
        pytest.param(1.0, [pcr(5.0), pcr(3.0)], False, id="1 % with two results of the same method"),
        pytest.param(1.0, [pcr(5.0), fish(2.0), flow(1.5)], True, id="1 % with three methods"),
        pytest.param(0.99, [pcr(5.0), flow(5.0)], False, id="0.99 % with two tests"),
        pytest.param(0.0, [pcr(50.0), flow(50.0), fish(50.0)], False, id="no marrow blasts"),
    ],
)
def test_assess_relapse(blasts: float, tests: list[OtherDiseaseTest], relapse: bool) -> None:
    assert assess_relapse(blasts, tests, CRITERIA).relapse is relapse


@pytest.mark.parametrize(
    ("blasts", "tests", "reason"),
    [
        (25.0, [], "relapse: marrow blasts 25.0 % (25.0 % or more)"),
        (
            8.0,
            [pcr(3.0)],
            "relapse: marrow blasts 8.0 % (5.0 to below 25.0 %) confirmed by one other test showing at least "
            "1.0 % leukemia (PCR 3.0 %)",
        ),
        (
            2.0,
            [pcr(3.0), flow(1.0)],
            "relapse: marrow blasts 2.0 % (1.0 to below 5.0 %) confirmed by 2 other tests showing at least "
            "1.0 % leukemia (flow cytometry 1.0 %, PCR 3.0 %)",
        ),
        (
            24.9,
            [],
            "no relapse: marrow blasts 24.9 % (5.0 to below 25.0 %) needs one other test showing at least "
            "1.0 % leukemia; none does",
        ),
        (
            5.0,
            [pcr(0.99)],
            "no relapse: marrow blasts 5.0 % (5.0 to below 25.0 %) needs one other test showing at least "
            "1.0 % leukemia; none does; below 1.0 %: PCR 0.99 %",
        ),
        (
            2.0,
            [pcr(3.0), pcr(2.0)],
            "no relapse: marrow blasts 2.0 % (1.0 to below 5.0 %) needs 2 other tests showing at least "
            "1.0 % leukemia; only one does (PCR 3.0 %); results by the same method count once",
        ),
        (0.5, [], "no relapse: marrow blasts 0.5 % (below 1.0 %)"),
        (
            0.5,
            [flow(2.0)],
            "no relapse: marrow blasts 0.5 % (below 1.0 %); other tests showing at least 1.0 % leukemia: "
            "flow cytometry 2.0 %, for the investigator to review",
        ),
    ],
)
def test_relapse_reasons_in_plain_words(blasts: float, tests: list[OtherDiseaseTest], reason: str) -> None:
    assert assess_relapse(blasts, tests, CRITERIA).reason == reason


def test_amended_relapse_thresholds() -> None:
    amended = amend(
        PROTOCOL_V1,
        "1.1",
        response={"relapse_marrow_blasts_alone_percent": 20.0, "relapse_other_test_min_percent": 0.5},
    ).response
    assert assess_relapse(20.0, [], CRITERIA).relapse is False
    assert assess_relapse(20.0, [], amended) == RelapseAssessment(
        relapse=True, reason="relapse: marrow blasts 20.0 % (20.0 % or more)", sites=("marrow",)
    )
    assert assess_relapse(5.0, [pcr(0.5)], CRITERIA).relapse is False
    assert assess_relapse(5.0, [pcr(0.5)], amended).relapse is True


@pytest.mark.parametrize("blasts", [-0.5, 100.5, math.nan, math.inf])
def test_assess_relapse_refuses_impossible_blasts(blasts: float) -> None:
    with pytest.raises(ValueError, match="marrow blasts must be a percentage"):
        assess_relapse(blasts, [], CRITERIA)


@pytest.mark.parametrize(
    "values",
    [
        {"method": "microscopy", "leukemia_percent": 2.0},
        {"method": "pcr", "leukemia_percent": -1.0},
        {"method": "pcr", "leukemia_percent": 100.1},
        {"method": "pcr", "leukemia_percent": math.nan},
    ],
)
def test_other_disease_test_refuses_bad_input(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OtherDiseaseTest(**values)


# ---------------------------------------------------------------- properties

# Values near every threshold are drawn far more often than chance would draw them.
percents = st.one_of(
    st.floats(min_value=0.0, max_value=100.0),
    st.sampled_from([0.0, 0.99, 1.0, 4.99, 5.0, 24.9, 25.0, 100.0]),
)
other_tests = st.lists(
    st.builds(
        OtherDiseaseTest,
        method=st.sampled_from(["flow_cytometry", "pcr", "cytogenetics_fish", "other"]),
        leukemia_percent=percents,
    ),
    max_size=5,
)
# Any amendment the protocol accepts: the three blast bands in order (alone >= one test >= two tests).
relapse_criteria = st.tuples(
    st.lists(st.floats(min_value=0.0, max_value=100.0), min_size=3, max_size=3).map(sorted),
    st.floats(min_value=0.0, max_value=100.0),
).map(
    lambda drawn: ResponseCriteria(
        relapse_marrow_blasts_alone_percent=drawn[0][2],
        relapse_marrow_blasts_with_one_test_percent=drawn[0][1],
        relapse_marrow_blasts_with_two_tests_percent=drawn[0][0],
        relapse_other_test_min_percent=drawn[1],
    )
)


@given(low=percents, high=percents, tests=other_tests)
def test_more_blasts_never_undo_a_relapse(low: float, high: float, tests: list[OtherDiseaseTest]) -> None:
    low, high = sorted((low, high))
    if assess_relapse(low, tests, CRITERIA).relapse:
        assert assess_relapse(high, tests, CRITERIA).relapse


@given(low=percents, high=percents, tests=other_tests, criteria=relapse_criteria)
def test_more_blasts_never_undo_a_relapse_under_any_amendment(
    low: float, high: float, tests: list[OtherDiseaseTest], criteria: ResponseCriteria
) -> None:
    low, high = sorted((low, high))
    if assess_relapse(low, tests, criteria).relapse:
        assert assess_relapse(high, tests, criteria).relapse


@given(blasts=percents, tests=other_tests, extra=other_tests)
def test_more_positive_tests_never_undo_a_relapse(
    blasts: float, tests: list[OtherDiseaseTest], extra: list[OtherDiseaseTest]
) -> None:
    if assess_relapse(blasts, tests, CRITERIA).relapse:
        assert assess_relapse(blasts, tests + extra, CRITERIA).relapse


@given(blasts=percents, tests=other_tests)
def test_relapse_matches_the_consensus_written_out(blasts: float, tests: list[OtherDiseaseTest]) -> None:
    methods = {t.method for t in tests if t.leukemia_percent >= 1.0}
    expected = blasts >= 25.0 or (blasts >= 5.0 and len(methods) >= 1) or (blasts >= 1.0 and len(methods) >= 2)
    result = assess_relapse(blasts, tests, CRITERIA)
    assert result.relapse is expected
    assert result.reason.startswith("relapse" if expected else "no relapse")


assessments = st.builds(
    MarrowAssessment,
    assessed_on=st.just(date(2026, 1, 29)),
    marrow_blasts_percent=percents,
    circulating_blasts=st.booleans(),
    extramedullary_disease=st.booleans(),
    neutrophils_10e9_per_l=st.one_of(st.floats(0.0, 20.0), st.sampled_from([0.99, 1.0])),
    platelets_10e9_per_l=st.one_of(st.floats(0.0, 800.0), st.sampled_from([99.0, 100.0])),
    mrd_flow_percent=st.one_of(st.none(), percents, st.sampled_from([0.0099, 0.01])),
)


@given(assessment=assessments)
def test_response_matches_the_criteria_written_out(assessment: MarrowAssessment) -> None:
    a = assessment
    morphologic = a.marrow_blasts_percent < 5.0 and not a.circulating_blasts and not a.extramedullary_disease
    counts = a.neutrophils_10e9_per_l >= 1.0 and a.platelets_10e9_per_l >= 100.0
    result = classify_response(a, CRITERIA)
    # CR implies the CRi criteria: CR and CRi share the morphology; CR adds count recovery.
    assert (result.category in (CR, CRI)) is morphologic
    assert (result.category is CR) is (morphologic and counts)
    expected_mrd = None if a.mrd_flow_percent is None else a.mrd_flow_percent < 0.01
    assert result.mrd_negative is expected_mrd


@given(assessment=assessments)
def test_losing_count_recovery_turns_cr_into_cri(assessment: MarrowAssessment) -> None:
    if classify_response(assessment, CRITERIA).category is CR:
        no_counts = assessment.model_copy(update={"neutrophils_10e9_per_l": 0.0})
        assert classify_response(no_counts, CRITERIA).category is CRI


# ---------------------------------------------------------------- relapse outside the marrow, molecular recurrence


@pytest.mark.parametrize(("cns", "relapse"), [(None, False), ("cns1", False), ("cns2", False), ("cns3", True)], ids=str)
def test_cns3_after_remission_is_an_isolated_cns_relapse(cns: Any, relapse: bool) -> None:
    result = assess_relapse(0.5, (), CRITERIA, cns_status=cns)
    assert result.relapse is relapse
    assert result.sites == (("cns",) if relapse else ())
    if relapse:
        assert result.reason.startswith("isolated CNS relapse: CSF CNS3 after remission; no relapse: marrow blasts")


def test_extramedullary_disease_is_a_relapse_only_when_proven() -> None:
    proven = assess_relapse(0.5, (), CRITERIA, extramedullary=ExtramedullaryFinding(site="testis", proven_by="biopsy"))
    assert (proven.relapse, proven.sites) == (True, ("extramedullary",))
    suspected = assess_relapse(0.5, (), CRITERIA, extramedullary=ExtramedullaryFinding(site="testis", proven_by=None))
    assert suspected.relapse is False
    assert "extramedullary disease (testis) not proven by biopsy or imaging" in suspected.reason


def test_marrow_and_cns_relapse_together_name_both_sites() -> None:
    result = assess_relapse(30.0, (), CRITERIA, cns_status="cns3")
    assert result.sites == ("marrow", "cns")
    assert result.reason == "relapse: marrow blasts 30.0 % (25.0 % or more); CNS relapse: CSF CNS3 after remission"


def test_the_marrow_alone_still_reads_as_before() -> None:
    assert assess_relapse(30.0, (), CRITERIA) == RelapseAssessment(
        relapse=True, reason="relapse: marrow blasts 30.0 % (25.0 % or more)", sites=("marrow",)
    )


def _mrd(*results: tuple[int, bool]) -> list[MrdResult]:
    return [MrdResult(on=date(2026, 3, 1) + timedelta(days=day), negative=negative) for day, negative in results]


@pytest.mark.parametrize(
    ("results", "confirmed"),
    [
        pytest.param(_mrd((0, True), (30, False), (44, False)), (30, 44), id="negative, positive, positive 14 d on"),
        pytest.param(_mrd((0, True), (30, False), (43, False)), None, id="second positive 13 days on: not yet"),
        pytest.param(_mrd((30, False), (60, False)), None, id="never negative: persistent MRD, not a recurrence"),
        pytest.param(_mrd((0, True), (30, False), (40, True), (50, False)), None, id="negative between: starts over"),
        pytest.param(
            _mrd((0, True), (30, False), (40, True), (50, False), (64, False)), (50, 64), id="starts over, confirmed"
        ),
        pytest.param(list(reversed(_mrd((0, True), (30, False), (44, False)))), (30, 44), id="any order"),
    ],
)
def test_molecular_recurrence_needs_negativity_then_two_positive_samples_14_days_apart(
    results: list[MrdResult], confirmed: tuple[int, int] | None
) -> None:
    found = confirm_molecular_recurrence(results, CRITERIA)
    if confirmed is None:
        assert found is None
        return
    assert found is not None
    start = date(2026, 3, 1)
    assert (found.first_positive_on, found.confirmed_on) == tuple(start + timedelta(days=d) for d in confirmed)
    assert "not a relapse by itself" in found.reason


def test_molecular_recurrence_confirmation_days_come_from_the_protocol() -> None:
    criteria = CRITERIA.model_copy(update={"molecular_recurrence_confirmation_days": 28})
    assert confirm_molecular_recurrence(_mrd((0, True), (30, False), (44, False)), criteria) is None


cns_statuses = st.sampled_from([None, "cns1", "cns2", "cns3"])
extramedullary_findings = st.none() | st.builds(
    ExtramedullaryFinding, site=st.just("testis"), proven_by=st.sampled_from([None, "biopsy", "imaging"])
)
_CNS_RANK = {None: 0, "cns1": 1, "cns2": 2, "cns3": 3}


@given(
    blasts=percents,
    tests=other_tests,
    low=cns_statuses,
    high=cns_statuses,
    extramedullary=extramedullary_findings,
)
def test_a_worse_csf_never_undoes_a_relapse_and_the_sites_add_up(
    blasts: float, tests: list[OtherDiseaseTest], low: Any, high: Any, extramedullary: ExtramedullaryFinding | None
) -> None:
    low, high = sorted((low, high), key=_CNS_RANK.__getitem__)
    milder = assess_relapse(blasts, tests, CRITERIA, cns_status=low, extramedullary=extramedullary)
    worse = assess_relapse(blasts, tests, CRITERIA, cns_status=high, extramedullary=extramedullary)
    if milder.relapse:
        assert worse.relapse and set(milder.sites) <= set(worse.sites)
    # A relapse exactly when it has a site; the marrow's verdict is the marrow-only one.
    assert worse.relapse == bool(worse.sites)
    assert ("marrow" in worse.sites) == assess_relapse(blasts, tests, CRITERIA).relapse


def test_an_empty_finding_outside_the_marrow_is_refused() -> None:
    with pytest.raises(ValidationError, match="give the CSF's CNS status or the extramedullary finding"):
        DiseaseOutsideMarrow()
