"""Disease response after infusion (CR, CRi, flow-cytometry MRD) and marrow relapse, from the marrow report.

Each result carries the plain-word reasons, with the values, that decided it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from domain.protocol import FrozenModel, ResponseCriteria


def _shown(value: float) -> str:
    """Every digit the value has and no exponent: 4.99 % must never read as 5 %, nor 0.00001 as 1e-05."""
    return format(Decimal(repr(float(value))), "f")


class ResponseCategory(StrEnum):
    CR = "cr"
    CRI = "cri"  # CR with incomplete count recovery
    NO_REMISSION = "no_remission"


class MarrowAssessment(FrozenModel):
    """One bone-marrow and blood evaluation, as the lab reports it."""

    assessed_on: date
    marrow_blasts_percent: float = Field(ge=0.0, le=100.0)
    circulating_blasts: bool
    extramedullary_disease: bool
    neutrophils_10e9_per_l: float = Field(ge=0.0)
    platelets_10e9_per_l: float = Field(ge=0.0)
    mrd_flow_percent: float | None = Field(default=None, ge=0.0, le=100.0)  # None: flow MRD not measured


class ResponseAssessment(FrozenModel):
    category: ResponseCategory
    mrd_negative: bool | None  # None when flow MRD was not measured
    reasons: tuple[str, ...]


def is_mrd_negative(mrd_flow_percent: float, criteria: ResponseCriteria) -> bool:
    """MRD-negative: below the protocol's flow-cytometry threshold (10⁻⁴ by default)."""
    if not math.isfinite(mrd_flow_percent) or not 0.0 <= mrd_flow_percent <= 100.0:
        raise ValueError(f"MRD must be a percentage from 0 to 100, got {mrd_flow_percent!r}")
    return mrd_flow_percent < criteria.mrd_negative_below_percent


def _mrd_reason(mrd_flow_percent: float | None, criteria: ResponseCriteria) -> tuple[bool | None, str]:
    if mrd_flow_percent is None:
        return None, "MRD by flow cytometry not measured"
    limit = _shown(criteria.mrd_negative_below_percent)
    mrd = f"MRD {_shown(mrd_flow_percent)} % by flow cytometry"
    if is_mrd_negative(mrd_flow_percent, criteria):
        return True, f"{mrd}: negative (below {limit} %)"
    return False, f"{mrd}: positive ({limit} % or more)"


def classify_response(assessment: MarrowAssessment, criteria: ResponseCriteria) -> ResponseAssessment:
    """CR: marrow blasts below the limit, no circulating blasts, no extramedullary disease, counts recovered.

    CRi: the same without count recovery. Anything else is no remission.
    """
    a = assessment
    blast_limit = _shown(criteria.cr_max_marrow_blasts_percent_exclusive)
    blasts = f"marrow blasts {_shown(a.marrow_blasts_percent)} %"
    morphology = (
        (
            a.marrow_blasts_percent < criteria.cr_max_marrow_blasts_percent_exclusive,
            f"{blasts} (below {blast_limit} %)",
            f"{blasts} ({blast_limit} % or more)",
        ),
        (not a.circulating_blasts, "no circulating blasts", "circulating blasts present"),
        (not a.extramedullary_disease, "no extramedullary disease", "extramedullary disease present"),
    )
    anc_min = criteria.cr_min_neutrophils_10e9_per_l
    platelet_min = criteria.cr_min_platelets_10e9_per_l
    anc = f"neutrophils {_shown(a.neutrophils_10e9_per_l)} x 10⁹/L"
    platelets = f"platelets {_shown(a.platelets_10e9_per_l)} x 10⁹/L"
    counts = (
        (
            a.neutrophils_10e9_per_l >= anc_min,
            f"{anc} (at least {_shown(anc_min)})",
            f"{anc} (below {_shown(anc_min)})",
        ),
        (
            a.platelets_10e9_per_l >= platelet_min,
            f"{platelets} (at least {_shown(platelet_min)})",
            f"{platelets} (below {_shown(platelet_min)})",
        ),
    )
    mrd_negative, mrd_reason = _mrd_reason(a.mrd_flow_percent, criteria)

    def stated(findings: Sequence[tuple[bool, str, str]]) -> list[str]:
        return [met if ok else unmet for ok, met, unmet in findings]

    if not all(ok for ok, _, _ in morphology):
        failed = [unmet for ok, _, unmet in morphology if not ok]
        return ResponseAssessment(
            category=ResponseCategory.NO_REMISSION,
            mrd_negative=mrd_negative,
            reasons=("no remission", *failed, mrd_reason),
        )
    if all(ok for ok, _, _ in counts):
        return ResponseAssessment(
            category=ResponseCategory.CR,
            mrd_negative=mrd_negative,
            reasons=("complete remission (CR)", *stated(morphology), *stated(counts), mrd_reason),
        )
    return ResponseAssessment(
        category=ResponseCategory.CRI,
        mrd_negative=mrd_negative,
        reasons=(
            "complete remission with incomplete count recovery (CRi)",
            *stated(morphology),
            *stated(counts),
            mrd_reason,
        ),
    )


# ---------------------------------------------------------------- relapse

OtherTestMethod = Literal["flow_cytometry", "pcr", "cytogenetics_fish", "other"]

_METHOD_WORDS: dict[str, str] = {
    "flow_cytometry": "flow cytometry",
    "pcr": "PCR",
    "cytogenetics_fish": "cytogenetics/FISH",
    "other": "another method",
}


class OtherDiseaseTest(FrozenModel):
    """A test other than marrow morphology that measures leukemia (flow cytometry, PCR, FISH ...)."""

    method: OtherTestMethod
    leukemia_percent: float = Field(ge=0.0, le=100.0)


class RelapseAssessment(FrozenModel):
    relapse: bool
    reason: str


def _tests_words(tests: Sequence[OtherDiseaseTest]) -> str:
    return ", ".join(f"{_METHOD_WORDS[t.method]} {_shown(t.leukemia_percent)} %" for t in tests)


def _count_words(count: int) -> str:
    return "one other test" if count == 1 else f"{count} other tests"


def assess_relapse(
    marrow_blasts_percent: float, other_tests: Sequence[OtherDiseaseTest], criteria: ResponseCriteria
) -> RelapseAssessment:
    """Marrow relapse (pediatric consensus): enough blasts alone, or fewer blasts confirmed by other tests.

    Confirmations count methods (two PCR results are one), each counting when a result reaches the protocol's minimum.
    """
    if not math.isfinite(marrow_blasts_percent) or not 0.0 <= marrow_blasts_percent <= 100.0:
        raise ValueError(f"marrow blasts must be a percentage from 0 to 100, got {marrow_blasts_percent!r}")
    test_min = criteria.relapse_other_test_min_percent
    confirming = [t for t in other_tests if t.leukemia_percent >= test_min]
    methods = sorted({t.method for t in confirming})
    confirmed_by = [max((t for t in confirming if t.method == m), key=lambda t: t.leukemia_percent) for m in methods]
    blasts = f"marrow blasts {_shown(marrow_blasts_percent)} %"
    showing = f"showing at least {_shown(test_min)} % leukemia"

    # (lowest marrow blasts, other methods needed, highest blasts of this band exclusive or None)
    bands = (
        (criteria.relapse_marrow_blasts_alone_percent, 0, None),
        (
            criteria.relapse_marrow_blasts_with_one_test_percent,
            1,
            criteria.relapse_marrow_blasts_alone_percent,
        ),
        (
            criteria.relapse_marrow_blasts_with_two_tests_percent,
            2,
            criteria.relapse_marrow_blasts_with_one_test_percent,
        ),
    )

    def band_words(low: float, high: float | None) -> str:
        if high is None:
            return f"{_shown(low)} % or more"
        return f"{_shown(low)} to below {_shown(high)} %"

    reached = [band for band in bands if marrow_blasts_percent >= band[0]]
    for low, needed, high in reached:
        if len(methods) >= needed:
            if needed == 0:
                return RelapseAssessment(relapse=True, reason=f"relapse: {blasts} ({band_words(low, high)})")
            return RelapseAssessment(
                relapse=True,
                reason=(
                    f"relapse: {blasts} ({band_words(low, high)}) confirmed by {_count_words(len(methods))} "
                    f"{showing} ({_tests_words(confirmed_by)})"
                ),
            )
    if not reached:
        lowest = min(band[0] for band in bands)
        reason = f"no relapse: {blasts} (below {_shown(lowest)} %)"
        if confirmed_by:
            # Not a marrow relapse by the consensus, but leukemia found elsewhere must reach the investigator.
            reason += f"; other tests {showing}: {_tests_words(confirmed_by)}, for the investigator to review"
        return RelapseAssessment(relapse=False, reason=reason)
    low, needed, high = min(reached, key=lambda band: band[1])
    found = "none does" if not methods else ("only one does" if len(methods) == 1 else f"only {len(methods)} do")
    if confirmed_by:
        found += f" ({_tests_words(confirmed_by)})"
    if len(confirming) > len(methods):
        found += "; results by the same method count once"
    below = [t for t in other_tests if t.leukemia_percent < test_min]
    if below:
        found += f"; below {_shown(test_min)} %: {_tests_words(below)}"
    return RelapseAssessment(
        relapse=False,
        reason=f"no relapse: {blasts} ({band_words(low, high)}) needs {_count_words(needed)} {showing}; {found}",
    )
