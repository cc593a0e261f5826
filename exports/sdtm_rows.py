"""Each kind of event's SDTM rows: the columns that differ between rows (the dataset adds STUDYID, DOMAIN,
USUBJID and the sequence number). exports/event_map.py names the builder of each kind, domain by domain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

from domain.journey import events as ev
from domain.journey.events import Event
from domain.protocol import protocol_for_version

Row = dict[str, Any]
RowsOf = Callable[[Event], list[Row]]

CAR_T: Final = "CD19/CD22 CAR-T CELLS"
ASTCT: Final = "ASTCT CONSENSUS GRADING"
_DISPOSITION: Final = "DISPOSITION EVENT"
_MILESTONE: Final = "PROTOCOL MILESTONE"


def dtc(moment: date | datetime) -> str:
    """ISO 8601, as SDTM's --DTC variables hold dates and times."""
    return moment.isoformat()


def _payload(event: Event, kind: type[Any]) -> Any:
    if not isinstance(event.payload, kind):
        raise TypeError(f"{event.type} is not {kind.__name__}: exports/event_map.py names the wrong builder")
    return event.payload


# ---------------------------------------------------------------- DS


def _disposition(term: str, decoded: str, on: date, category: str = _DISPOSITION) -> list[Row]:
    return [{"DSTERM": term.upper(), "DSDECOD": decoded, "DSCAT": category, "DSSTDTC": dtc(on)}]


def ds_consent(event: Event) -> list[Row]:
    p = _payload(event, ev.ConsentSigned)
    return _disposition("INFORMED CONSENT OBTAINED", "INFORMED CONSENT OBTAINED", p.signed_on, _MILESTONE)


def ds_screen_failure(event: Event) -> list[Row]:
    p = _payload(event, ev.ScreenFailed)
    term = "; ".join(criterion.code for criterion in p.failed) or "SCREEN FAILURE"
    return _disposition(term, "SCREEN FAILURE", event.occurred_at.date())


def ds_infusion_not_given(event: Event) -> list[Row]:
    p = _payload(event, ev.InfusionNotGiven)
    return _disposition(p.reason, "CAR-T INFUSION NOT GIVEN", p.on, _MILESTONE)


def ds_withdrawn(event: Event) -> list[Row]:
    p = _payload(event, ev.ConsentWithdrawn)
    return _disposition(p.reason, "WITHDRAWAL BY PARENT/GUARDIAN", p.withdrawn_on)


def ds_death(event: Event) -> list[Row]:
    p = _payload(event, ev.PatientDied)
    return _disposition(p.cause, "DEATH", p.died_on)


def ds_lost(event: Event) -> list[Row]:
    p = _payload(event, ev.LostToFollowUp)
    return _disposition(p.reason, "LOST TO FOLLOW-UP", p.last_contact_on)


def ds_off_study(event: Event) -> list[Row]:
    p = _payload(event, ev.TakenOffStudy)
    return _disposition(p.reason, "OTHER", p.on)


def ds_trial_stopped(event: Event) -> list[Row]:
    """A disposition for a patient the DSMB's stop took off study; an infused one stays in safety follow-up."""
    p = _payload(event, ev.TrialStopped)
    if not p.off_study:
        return []
    return _disposition(f"the DSMB stopped the trial (decision {p.decision_id})", "STUDY TERMINATED BY SPONSOR", p.on)


def ds_completed(event: Event) -> list[Row]:
    p = _payload(event, ev.JourneyCompleted)
    return _disposition("COMPLETED", "COMPLETED", p.completed_on)


# ---------------------------------------------------------------- EX


def ex_lymphodepletion(event: Event) -> list[Row]:
    p = _payload(event, ev.LymphodepletionDoseGiven)
    return [
        {
            "EXTRT": p.drug.upper(),
            "EXCAT": "LYMPHODEPLETION",
            "EXDOSE": p.dose_mg,
            "EXDOSU": "mg",
            "EXROUTE": "INTRAVENOUS",
            "EXADJ": p.deviation_reason or "",
            "EXSTDTC": dtc(p.given_at),
        }
    ]


def ex_infusion(event: Event) -> list[Row]:
    p = _payload(event, ev.CellsInfused)
    return [
        {
            "EXTRT": CAR_T,
            "EXCAT": "CAR-T INFUSION",
            "EXDOSE": p.cells_infused,
            "EXDOSU": "cells",
            "EXROUTE": "INTRAVENOUS",
            "EXADJ": "; ".join(p.deviations),
            "EXSTDTC": dtc(p.infused_at),
        }
    ]


# ---------------------------------------------------------------- AE: CRS and ICANS on ASTCT, the others on CTCAE


def _astct(term: str, category: str, grade: int, at: datetime) -> list[Row]:
    if grade == 0:
        return []  # an assessment that found none: no adverse event
    return [
        {
            "AETERM": term,
            "AEDECOD": term,
            "AECAT": category,
            "AESCAT": ASTCT,
            "AESER": "",
            "AEREL": "",
            "AETOXGR": str(grade),
            "AESTDTC": dtc(at),
        }
    ]


def ae_crs(event: Event) -> list[Row]:
    p = _payload(event, ev.CrsAssessed)
    return _astct("CYTOKINE RELEASE SYNDROME", "CRS", p.grade, p.assessed_at)


def ae_icans(event: Event) -> list[Row]:
    p = _payload(event, ev.IcansAssessed)
    return _astct("IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME", "ICANS", p.grade, p.assessed_at)


def ae_other(event: Event) -> list[Row]:
    p = _payload(event, ev.AdverseEventRecorded)
    adverse = p.adverse_event
    return [
        {
            "AETERM": str(adverse.term).upper(),
            "AEDECOD": str(adverse.term).upper(),
            "AECAT": "OTHER",
            "AESCAT": f"CTCAE V{_ctcae_version(event)}",
            "AESER": "Y" if adverse.serious else "N",
            "AEREL": adverse.related_to_car_t.upper(),
            "AETOXGR": str(adverse.ctcae_grade),
            "AESTDTC": dtc(adverse.onset_date),
        }
    ]


def _ctcae_version(event: Event) -> str:
    return protocol_for_version(event.protocol_version).safety.ctcae_version


# ---------------------------------------------------------------- RS: the response, and the MRD when measured


def rs_disease(event: Event) -> list[Row]:
    p = _payload(event, ev.DiseaseAssessed)
    on = dtc(p.marrow.assessed_on)
    category = p.response.category.value.upper()
    rows: list[Row] = [
        {
            "RSTESTCD": "OVRLRESP",
            "RSTEST": "Overall Response",
            "RSCAT": "BONE MARROW RESPONSE",
            "RSORRES": category,
            "RSORRESU": "",
            "RSSTRESC": category,
            "RSSTRESN": None,
            "RSSTRESU": "",
            "RSDTC": on,
        }
    ]
    if p.marrow.mrd_flow_percent is not None:
        mrd = p.marrow.mrd_flow_percent
        rows.append(
            {
                "RSTESTCD": "MRD",
                "RSTEST": "Minimal Residual Disease by Flow",
                "RSCAT": "MRD NEGATIVE" if p.response.mrd_negative else "MRD POSITIVE",
                "RSORRES": repr(mrd),
                "RSORRESU": "%",
                "RSSTRESC": repr(mrd),
                "RSSTRESN": mrd,
                "RSSTRESU": "%",
                "RSDTC": on,
            }
        )
    return rows


# ---------------------------------------------------------------- SV


def sv_visit(event: Event) -> list[Row]:
    p = _payload(event, ev.VisitCompleted)
    return [{"VISIT": p.visit_code, "SVSTDTC": dtc(p.visit_date), "SVENDTC": dtc(p.visit_date)}]
