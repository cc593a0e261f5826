"""The trial protocol as one versioned, frozen definition: every number the software knows has its home here.

An amendment (`domain.amendment.amend`) is a new version; patients keep the one they were enrolled under.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from domain.frozen_model import FrozenModel as FrozenModel  # re-exported: the contracts import it from here

# ---------------------------------------------------------------- eligibility and consent


class EligibilityRules(FrozenModel):
    """Inclusion and exclusion thresholds checked at screening."""

    diagnosis: str = "B-ALL"  # confirmed (by immunophenotype) before screening
    regimen: str = "CCCG-ALL"
    risk_group: str = "intermediate"
    # Morphologic complete remission at the end of induction: marrow blasts below this.
    max_end_of_induction_marrow_blasts_percent_exclusive: float = 5.0
    mrd_induction_day: int = 46
    mrd_positive_min_percent: float = 0.01  # >= 10^-4 by flow cytometry
    min_age_years: int = 1
    max_age_years_exclusive: int = 18
    karnofsky_from_age_years: int = 16  # Lansky below this age, Karnofsky from it
    min_performance_score: int = 50
    schwartz_k: float = 0.413  # bedside Schwartz: eGFR = k x height(cm) / creatinine(mg/dL)
    min_egfr_ml_min_173m2: float = 60.0
    min_lvef_percent: float = 50.0
    min_shortening_fraction_percent: float = 28.0
    min_spo2_room_air_percent_exclusive: float = 92.0  # SpO2 must be above this
    max_bilirubin_x_uln: float = 3.0
    max_alt_x_uln: float = 5.0
    max_ast_x_uln: float = 5.0
    cns3_min_csf_wbc_per_ul: float = 5.0  # with blasts in the CSF
    # Amendment 1.1: any of these drugs given within this many days before screening excludes the patient.
    recent_therapy_exclusion_drugs: tuple[str, ...] = ()
    recent_therapy_exclusion_days: int = Field(default=14, ge=1)


class ConsentRules(FrozenModel):
    assent_from_age_years: int = 8


# ---------------------------------------------------------------- lymphodepletion, product, infusion


class LymphodepletingDrug(FrozenModel):
    name: str
    mg_per_m2_per_day: float = Field(gt=0)
    days: int = Field(ge=1)
    rounding_mg: float = Field(gt=0)  # doses are prescribed to this step


class RenalAdjustmentTier(FrozenModel):
    """Fludarabine reduction suggested when creatinine clearance is at or below (or below) `crcl_upper`."""

    crcl_upper: float
    upper_inclusive: bool
    reduction_fraction: float = Field(gt=0, lt=1)

    def applies_to(self, crcl_ml_min_173m2: float) -> bool:
        if self.upper_inclusive:
            return crcl_ml_min_173m2 <= self.crcl_upper
        return crcl_ml_min_173m2 < self.crcl_upper


class LymphodepletionRegimen(FrozenModel):
    """The FC regimen; BSA by Mosteller."""

    fludarabine: LymphodepletingDrug = LymphodepletingDrug(
        name="fludarabine", mg_per_m2_per_day=30, days=4, rounding_mg=0.1
    )
    cyclophosphamide: LymphodepletingDrug = LymphodepletingDrug(
        name="cyclophosphamide", mg_per_m2_per_day=500, days=2, rounding_mg=1
    )
    # Fludarabine label: CrCl 30-70 -> -20 %, < 30 -> -50 %. The most severe matching tier wins.
    fludarabine_renal_tiers: tuple[RenalAdjustmentTier, ...] = (
        RenalAdjustmentTier(crcl_upper=70, upper_inclusive=True, reduction_fraction=0.20),
        RenalAdjustmentTier(crcl_upper=30, upper_inclusive=False, reduction_fraction=0.50),
    )
    # BSA is recorded to this step and every dose is computed from the recorded value, so it can be re-checked.
    bsa_rounding_m2: float = Field(default=0.001, gt=0)
    # A recorded dose further than this from the prescribed one needs a stated deviation reason.
    administered_dose_tolerance_fraction: float = 0.10

    @property
    def drugs(self) -> tuple[LymphodepletingDrug, ...]:
        return (self.fludarabine, self.cyclophosphamide)


class CellDoseRules(FrozenModel):
    """CAR+ viable cells per kg of the weight recorded at lymphodepletion."""

    target_cells_per_kg: float = 3e6
    min_cells_per_kg: float = 2e6
    max_cells_per_kg: float = 4e6

    @model_validator(mode="after")
    def _ordered(self) -> CellDoseRules:
        if not self.min_cells_per_kg <= self.target_cells_per_kg <= self.max_cells_per_kg:
            raise ValueError("cell dose must satisfy minimum <= target <= maximum")
        return self


class InfusionRules(FrozenModel):
    min_days_after_lymphodepletion: int = 2
    max_days_after_lymphodepletion: int = 14
    min_fever_free_hours: int = 24
    min_tocilizumab_doses_on_site: int = 2


class CustodyRules(FrozenModel):
    """Product logistics: the cryopreserved cells' cold chain, and the bag's life once thawed."""

    # Warmest the shipper's temperature logger may read at the site's receipt; above it is an excursion.
    max_shipping_temperature_c: float = -150.0
    # The infusion starts within this many minutes of the end of thawing (the bag's label).
    max_minutes_thaw_to_infusion: int = Field(default=30, ge=1)


class ManufacturingRules(FrozenModel):
    manufacturer: str = "Shenzhen Cell Valley"
    max_recollections: int = Field(default=1, ge=0)  # re-collections after a failed manufacture
    # Product logistics (site defaults; a site overrides the capacity in its settings): apheresis collections a
    # week, products in manufacturing at once, and days from collection to the product's expected release.
    collections_per_week: int = Field(default=2, ge=1, le=5)
    max_products_in_manufacturing: int = Field(default=3, ge=1)
    manufacturing_days: int = Field(default=12, ge=1)


# ---------------------------------------------------------------- toxicity and safety reporting


class CrsCriteria(FrozenModel):
    """ASTCT 2019 CRS grading."""

    fever_min_celsius: float = 38.0
    low_flow_oxygen_max_l_per_min: float = 6.0
    # Tocilizumab or a corticosteroid recorded as given this long before an assessment masks its fever.
    fever_masking_window_hours: int = Field(default=72, ge=1)


class IcansCriteria(FrozenModel):
    """ASTCT 2019 ICANS grading: ICE from this age, CAPD below it."""

    ice_from_age_years: int = 12
    ice_max: int = 10
    ice_grade1_min: int = 7  # 7-9
    ice_grade2_min: int = 3  # 3-6; 0-2 is grade 3
    capd_max: int = 32
    capd_grade3_min: int = 9  # 1-8 is grade 1 (consciousness tells 1 from 2)
    prolonged_seizure_minutes: int = 5


class SafetyReporting(FrozenModel):
    expedited_report_hours: int = 24
    expedited_min_crs_grade: int = 3
    expedited_min_icans_grade: int = 3
    ctcae_version: str = "5.0"
    ctcae_max_grade: int = 5
    # CRS and ICANS are assessed at least daily up to this day after infusion, then at visits.
    daily_toxicity_assessment_until_day: int = 14


# ---------------------------------------------------------------- response

CnsStatus = Literal["cns1", "cns2", "cns3"]  # CSF: no blasts; blasts with < 5 WBC/µL; >= 5 WBC/µL with blasts
ExtramedullaryProof = Literal["biopsy", "imaging"]


class ResponseCriteria(FrozenModel):
    """NCCN ALL 2024.V5 response, pediatric consensus relapse."""

    cr_max_marrow_blasts_percent_exclusive: float = 5.0
    cr_min_neutrophils_10e9_per_l: float = 1.0
    cr_min_platelets_10e9_per_l: float = 100.0
    mrd_negative_below_percent: float = 0.01
    relapse_marrow_blasts_alone_percent: float = 25.0
    relapse_marrow_blasts_with_one_test_percent: float = 5.0
    relapse_marrow_blasts_with_two_tests_percent: float = 1.0
    relapse_other_test_min_percent: float = 1.0
    relapse_cns_status: CnsStatus = "cns3"  # this CSF status or worse after remission is a CNS relapse
    # Extramedullary disease is a relapse once proven by one of these.
    extramedullary_relapse_proof: tuple[ExtramedullaryProof, ...] = ("biopsy", "imaging")
    # Molecular recurrence: MRD positive again after MRD-negativity, confirmed on a second sample this many days on.
    molecular_recurrence_confirmation_days: int = Field(default=14, ge=1)
    primary_endpoint_months: int = 12
    confidence_level: float = 0.95
    # Secondary endpoints: survival estimates reported at these days after infusion; "severe" CRS/ICANS grade.
    survival_landmark_days: tuple[int, ...] = (180, 365)
    severe_toxicity_min_grade: int = 3

    @model_validator(mode="after")
    def _relapse_bands_ordered(self) -> ResponseCriteria:
        bands = (
            self.relapse_marrow_blasts_alone_percent,
            self.relapse_marrow_blasts_with_one_test_percent,
            self.relapse_marrow_blasts_with_two_tests_percent,
        )
        if not bands[0] >= bands[1] >= bands[2]:
            raise ValueError("relapse thresholds must satisfy: blasts alone >= with one test >= with two tests")
        return self


# ---------------------------------------------------------------- schedule


class VisitSeries(FrozenModel):
    """A run of follow-up visits at `first, first+step, ... last` units after infusion (day 0)."""

    name: str
    unit: Literal["day", "month", "year"]
    offsets: tuple[int, ...]
    window_days: int  # the visit may be done this many days either side of its target date
    remind_before_open_days: int
    closing_soon_days: int  # "closing soon" from this many days before the window closes


class VisitWindow(FrozenModel):
    """One visit's own window, wider or narrower than its series' (amendment 1.1: month 3 at ± 14 days)."""

    code: str  # the visit's code, "M3"
    window_days: int = Field(ge=0)


def _every(first: int, last: int, step: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1, step))


class ScheduleRules(FrozenModel):
    """Visit calendar from the infusion date. Where two series share a date, the first series keeps it."""

    follow_up_series: tuple[VisitSeries, ...] = (
        VisitSeries(
            name="first month",
            unit="day",
            offsets=(7, 14, 21, 30),
            window_days=1,
            remind_before_open_days=2,
            closing_soon_days=0,
        ),
        VisitSeries(
            name="monthly",
            unit="month",
            offsets=_every(2, 6, 1),
            window_days=7,
            remind_before_open_days=7,
            closing_soon_days=2,
        ),
        VisitSeries(
            name="every 3 months",
            unit="month",
            offsets=_every(6, 24, 3),  # month 6 is the monthly series' last visit: counted once
            window_days=14,
            remind_before_open_days=7,
            closing_soon_days=3,
        ),
        VisitSeries(
            name="yearly",
            unit="year",
            offsets=_every(3, 5, 1),
            window_days=30,
            remind_before_open_days=14,
            closing_soon_days=7,
        ),
        VisitSeries(
            name="long-term follow-up",
            unit="year",
            offsets=_every(6, 15, 1),
            window_days=60,
            remind_before_open_days=30,
            closing_soon_days=14,
        ),
    )
    # Visits whose window is not their series' (by code); an amendment's calendar check covers them.
    visit_windows: tuple[VisitWindow, ...] = ()
    mrd_evaluation_day: int = 28
    mrd_evaluation_window_days: int = 3
    mrd_evaluation_remind_before_open_days: int = 7
    mrd_evaluation_closing_soon_days: int = 1
    # Amendment 1.1: a second bone-marrow MRD assessment on this day (None: not in the protocol); it reminds and
    # closes as the first one does.
    second_mrd_evaluation_day: int | None = Field(default=None, ge=1)
    second_mrd_evaluation_window_days: int = Field(default=7, ge=0)
    chemotherapy_resumption_months: int = 1
    chemotherapy_resumption_window_days: int = 7
    chemotherapy_resumption_remind_before_open_days: int = 7
    chemotherapy_resumption_closing_soon_days: int = 2
    chemotherapy_resumption_step: str = "CCCG-ALL consolidation, second high-dose methotrexate"
    follow_up_years: int = 5  # efficacy follow-up; long-term follow-up runs to the last series' end
    # Dates in the trial are the site's calendar dates. The site (China) keeps one offset all year.
    site_utc_offset_minutes: int = 480
    reminder_local_hour: int = Field(default=8, ge=0, le=23)  # reminders go out at this local hour


# ---------------------------------------------------------------- stopping rule


class StoppingRule(FrozenModel):
    """Bayesian beta-binomial toxicity monitoring: pause when P(rate > threshold | data) > probability."""

    prior_alpha: float = Field(default=0.4, gt=0)
    prior_beta: float = Field(default=1.6, gt=0)
    toxicity_rate_threshold: float = Field(default=0.20, gt=0, lt=1)
    posterior_probability_threshold: float = Field(default=0.90, gt=0, lt=1)
    dlt_min_crs_grade: int = 3
    dlt_min_icans_grade: int = 3
    # A patient counts in the rule once this many days have passed since infusion, or at their DLT.
    dlt_observation_window_days: int = Field(default=28, ge=1)


class AccrualRules(FrozenModel):
    """The trial's size: enrollment closes when this many patients have been infused."""

    trial_identifier: str = Field(default="TF", pattern=r"^[A-Z][A-Z0-9]{1,7}$")  # names the trial's workflow
    accrual_target_infused: int = Field(default=20, ge=1)


# ---------------------------------------------------------------- electronic signatures


class SignatureRules(FrozenModel):
    """Electronic signatures (21 CFR Part 11): when a toxicity entry is signed, and how wrong PINs lock signing."""

    min_signed_toxicity_grade: int = Field(default=3, ge=1)  # a CRS, ICANS or CTCAE grade this high is signed
    max_failed_attempts: int = Field(default=3, ge=1)  # wrong signing PINs in a row before signing locks...
    lockout_minutes: int = Field(default=15, ge=1)  # ...for this long, and a supervisor is alerted at once


# ---------------------------------------------------------------- the protocol


class TrialProtocol(FrozenModel):
    version: str
    title: str = "CD19/CD22 CAR-T cell therapy in MRD-positive B-lineage ALL in children"
    eligibility: EligibilityRules = EligibilityRules()
    consent: ConsentRules = ConsentRules()
    lymphodepletion: LymphodepletionRegimen = LymphodepletionRegimen()
    cell_dose: CellDoseRules = CellDoseRules()
    infusion: InfusionRules = InfusionRules()
    manufacturing: ManufacturingRules = ManufacturingRules()
    custody: CustodyRules = CustodyRules()
    crs: CrsCriteria = CrsCriteria()
    icans: IcansCriteria = IcansCriteria()
    safety: SafetyReporting = SafetyReporting()
    response: ResponseCriteria = ResponseCriteria()
    schedule: ScheduleRules = ScheduleRules()
    stopping_rule: StoppingRule = StoppingRule()
    accrual: AccrualRules = AccrualRules()
    signatures: SignatureRules = SignatureRules()


PROTOCOL_V1 = TrialProtocol(version="1.0")

# Amendment 1.1 (protocol.md "Amendment 1.1"): a day-60 marrow MRD assessment, month 3 at ± 14 days, and no
# blinatumomab or inotuzumab ozogamicin within 14 days before screening. tests/domain/test_protocol_amendment.py
# checks its calendar as `domain.amendment.amend` would.
PROTOCOL_V1_1 = TrialProtocol(
    version="1.1",
    eligibility=EligibilityRules(recent_therapy_exclusion_drugs=("blinatumomab", "inotuzumab ozogamicin")),
    schedule=ScheduleRules(
        second_mrd_evaluation_day=60,
        second_mrd_evaluation_window_days=7,
        visit_windows=(VisitWindow(code="M3", window_days=14),),
    ),
)

PROTOCOLS: dict[str, TrialProtocol] = {p.version: p for p in (PROTOCOL_V1, PROTOCOL_V1_1)}
# The version a screening follows where the site has put no amendment in effect (`protocol_in_effect`), and the one
# every journey started before amendments existed was enrolled under.
CURRENT_PROTOCOL = PROTOCOL_V1


def protocol_for_version(version: str) -> TrialProtocol:
    try:
        return PROTOCOLS[version]
    except KeyError:
        raise ValueError(f"unknown protocol version {version!r}; known: {', '.join(sorted(PROTOCOLS))}") from None


def protocol_in_effect(screened_on: date, effective_dates: Mapping[str, date]) -> TrialProtocol:
    """The protocol a screening on `screened_on` follows: the latest amendment in effect by then at the site
    (`effective_dates` by version, the site's configuration), else the base version."""
    problems = [f"unknown protocol version {v!r} in the effective dates" for v in effective_dates if v not in PROTOCOLS]
    if problems:
        raise ValueError("; ".join(problems))
    in_effect = [PROTOCOLS[v] for v, since in effective_dates.items() if since <= screened_on]
    return max(in_effect, key=lambda p: _version_key(p.version), default=CURRENT_PROTOCOL)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
