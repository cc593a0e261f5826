"""Disease response after infusion (CR, CRi, flow-cytometry MRD), relapse (marrow, CNS, extramedullary) and
molecular recurrence, from the disease assessments.

Each result carries the plain-word reasons, with the values, that decided it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from domain.free_text import Label
from domain.protocol import CnsStatus, ExtramedullaryProof, FrozenModel, ResponseCriteria


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


RelapseSite = Literal["marrow", "cns", "extramedullary"]


class ExtramedullaryFinding(FrozenModel):
    """Leukemia outside the marrow and the CNS (testis, skin, a mass ...), and how it was proven (None: suspected)."""

    site: Label
    proven_by: ExtramedullaryProof | None


class DiseaseOutsideMarrow(FrozenModel):
    """What a disease assessment found outside the marrow: the CSF's CNS status, extramedullary disease."""

    cns_status: CnsStatus | None = None  # None: no lumbar puncture with this assessment
    extramedullary: ExtramedullaryFinding | None = None

    @model_validator(mode="after")
    def _something_found(self) -> DiseaseOutsideMarrow:
        if self.cns_status is None and self.extramedullary is None:
            raise ValueError("give the CSF's CNS status or the extramedullary finding, or leave outside_marrow out")
        return self


class RelapseAssessment(FrozenModel):
    relapse: bool
    reason: str
    sites: tuple[RelapseSite, ...] = ()  # where the relapse is; () with no relapse


def _tests_words(tests: Sequence[OtherDiseaseTest]) -> str:
    return ", ".join(f"{_METHOD_WORDS[t.method]} {_shown(t.leukemia_percent)} %" for t in tests)


def _count_words(count: int) -> str:
    return "one other test" if count == 1 else f"{count} other tests"


_CNS_ORDER: tuple[CnsStatus, ...] = ("cns1", "cns2", "cns3")


def assess_relapse(
    marrow_blasts_percent: float,
    other_tests: Sequence[OtherDiseaseTest],
    criteria: ResponseCriteria,
    *,
    cns_status: CnsStatus | None = None,
    extramedullary: ExtramedullaryFinding | None = None,
) -> RelapseAssessment:
    """Relapse of any kind: in the marrow (pediatric consensus), the CNS (the CSF status after remission), or
    elsewhere when proven by biopsy or imaging. The one judge of relapse, for the journey and any calculator.

    `other_tests` are tests other than the marrow sample's own flow MRD, which never confirms its own blasts
    (protocol, "Response"): pass that MRD in the marrow assessment, not here.
    """
    marrow = _marrow_relapse(marrow_blasts_percent, other_tests, criteria)
    found: list[tuple[RelapseSite, str]] = [("marrow", marrow.reason)] if marrow.relapse else []
    notes: list[str] = []
    if cns_status is not None:
        cns_words = f"CSF {cns_status.upper()}"
        if _CNS_ORDER.index(cns_status) >= _CNS_ORDER.index(criteria.relapse_cns_status):
            found.append(("cns", f"CNS relapse: {cns_words} after remission"))
        else:
            notes.append(f"no CNS relapse: {cns_words} (below {criteria.relapse_cns_status.upper()})")
    if extramedullary is not None:
        site = f"extramedullary disease ({extramedullary.site})"
        proof = extramedullary.proven_by
        if proof is not None and proof in criteria.extramedullary_relapse_proof:
            found.append(("extramedullary", f"extramedullary relapse: {site} proven by {proof}"))
        else:
            needed = " or ".join(criteria.extramedullary_relapse_proof)
            notes.append(f"{site} not proven by {needed}: not a relapse until proven, for the investigator to review")
    if not found:
        return RelapseAssessment(relapse=False, reason="; ".join([marrow.reason, *notes]))
    isolated = "isolated " if not marrow.relapse and len(found) == 1 else ""
    reasons = [reason for _, reason in found]
    if not marrow.relapse:
        reasons.append(marrow.reason)
    reason = isolated + "; ".join([*reasons, *notes])
    return RelapseAssessment(relapse=True, reason=reason, sites=tuple(site for site, _ in found))


def _marrow_relapse(
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
                return RelapseAssessment(
                    relapse=True, reason=f"relapse: {blasts} ({band_words(low, high)})", sites=("marrow",)
                )
            return RelapseAssessment(
                relapse=True,
                sites=("marrow",),
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


# ---------------------------------------------------------------- molecular recurrence


class MrdResult(FrozenModel):
    """One flow-cytometry MRD result of a marrow sample: its date and whether it was negative."""

    on: date
    negative: bool


class MolecularRecurrence(FrozenModel):
    """MRD positive again after MRD-negativity, confirmed by a second positive sample. Not a relapse."""

    first_positive_on: date
    confirmed_on: date
    reason: str


def confirm_molecular_recurrence(
    results: Sequence[MrdResult], criteria: ResponseCriteria
) -> MolecularRecurrence | None:
    """The first molecular recurrence in `results` (any order): after a negative result, a positive one confirmed
    by another positive at least the protocol's days later with no negative between; None when there is none."""
    days = criteria.molecular_recurrence_confirmation_days
    limit = _shown(criteria.mrd_negative_below_percent)
    was_negative = False
    first_positive: date | None = None
    for result in sorted(results, key=lambda r: r.on):
        if result.negative:
            was_negative, first_positive = True, None
        elif was_negative and first_positive is None:
            first_positive = result.on
        elif first_positive is not None and (result.on - first_positive).days >= days:
            return MolecularRecurrence(
                first_positive_on=first_positive,
                confirmed_on=result.on,
                reason=(
                    f"molecular recurrence: MRD {limit} % or more on {first_positive.isoformat()} after "
                    f"MRD-negativity, confirmed on {result.on.isoformat()} ({(result.on - first_positive).days} "
                    f"days later, at least {days}); not a relapse by itself"
                ),
            )
    return None
