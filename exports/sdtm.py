"""The record as SDTM-shaped datasets: DM (one row per subject), and DS, EX, AE, RS and SV (one row per recorded
fact, each through its kind's entry in exports/event_map.py). Only current facts: an entry a correction superseded
is replaced by the correction (the ODM export keeps both, with the reason).

USUBJID is the study id. No PHI beyond what DM needs: no names, no birth date; AGE is the age in completed years at
consent as the record keeps it (at screening, from the screening data, for a child never consented). SEX is not
collected by this protocol: "U"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from domain.eligibility import age_in_completed_years
from domain.journey import events as ev
from domain.journey.events import Event
from domain.protocol import TrialProtocol
from exports.event_map import DM, EVENT_EXPORTS, export_of
from exports.odm_metadata import visits
from exports.sdtm_domains import DOMAINS, Domain
from exports.sdtm_rows import Row, dtc

SITE_ID: Final = "01"  # the trial runs at one site
ARM_CODE: Final = "CART"
ARM: Final = "CD19/CD22 CAR-T cells after fludarabine and cyclophosphamide"
SEX_NOT_COLLECTED: Final = "U"
CHAR_MAX_BYTES: Final = 200  # SAS transport version 5 holds a character value of at most 200 bytes


@dataclass
class Dataset:
    domain: Domain
    rows: list[Row] = field(default_factory=list)
    sources: list[tuple[str, int | None]] = field(default_factory=list)  # each row's (study id, event sequence)

    @property
    def name(self) -> str:
        return self.domain.name


def current_facts(events: Sequence[Event]) -> list[Event]:
    """The subject's events less those a later correction superseded, in sequence order."""
    superseded = {s for e in events if (s := getattr(e.payload, "supersedes", None)) is not None}
    return [event for event in events if event.sequence not in superseded]


def _last(events: Sequence[Event], kind: type[Any]) -> Any | None:
    found = [event.payload for event in events if isinstance(event.payload, kind)]
    return found[-1] if found else None


def _dm_row(study_id: str, facts: Sequence[Event]) -> Row:
    enrolled = _last(facts, ev.PatientEnrolled)
    consent = _last(facts, ev.ConsentSigned)
    infused = _last(facts, ev.CellsInfused)
    died = _last(facts, ev.PatientDied)
    last_enrollment = max((e.sequence for e in facts if isinstance(e.payload, ev.PatientEnrolled)), default=0)
    screen_failed = any(isinstance(e.payload, ev.ScreenFailed) and e.sequence > last_enrollment for e in facts)
    if consent is not None:
        age: int | None = consent.age_years
    elif enrolled is not None:
        age = age_in_completed_years(enrolled.screening.date_of_birth, enrolled.screening.screening_date)
    else:
        age = None
    assigned = not screen_failed
    return {
        "SUBJID": study_id,
        "RFSTDTC": dtc(infused.infused_at) if infused else "",
        "RFICDTC": dtc(consent.signed_on) if consent else "",
        "DTHDTC": dtc(died.died_on) if died else "",
        "DTHFL": "Y" if died else "",
        "SITEID": SITE_ID,
        "AGE": age,
        "AGEU": "YEARS" if age is not None else "",
        "SEX": SEX_NOT_COLLECTED,
        "ARMCD": ARM_CODE if assigned else "",
        "ARM": ARM if assigned else "",
        "ACTARMCD": ARM_CODE if infused else "",
        "ACTARM": ARM if infused else "",
        "ARMNRS": "SCREEN FAILURE" if screen_failed else ("" if infused else "ASSIGNED, NOT TREATED"),
    }


def _transportable(text: str) -> str:
    """At most CHAR_MAX_BYTES of UTF-8, cut on a character boundary (the full text stays in the ODM export)."""
    return text.encode("utf-8")[:CHAR_MAX_BYTES].decode("utf-8", errors="ignore")


def _complete(domain: Domain, study_id: str, studyid: str, row: Row, seq: int) -> Row:
    fixed = {"STUDYID": studyid, "DOMAIN": domain.name, "USUBJID": study_id, f"{domain.name}SEQ": seq}
    merged = {**row, **fixed}
    return {
        v.name: _transportable(str(merged.get(v.name) or "")) if v.kind == "Char" else merged.get(v.name)
        for v in domain.variables
    }


def sdtm_datasets(records: Mapping[str, Sequence[Event]], protocol: TrialProtocol) -> dict[str, Dataset]:
    """Every dataset, rows sorted by subject then record order (the sequence numbers follow it)."""
    studyid = protocol.accrual.trial_identifier
    visit_numbers = {code: number for number, (code, _) in enumerate(visits(protocol), start=1)}
    datasets = {name: Dataset(domain) for name, domain in DOMAINS.items()}
    for study_id in sorted(records):
        facts = current_facts(records[study_id])
        if not facts:
            continue
        dm = datasets[DM]
        dm.rows.append(_complete(dm.domain, study_id, studyid, _dm_row(study_id, facts), 0))
        dm.sources.append((study_id, None))
        numbered: dict[str, int] = {}
        for event in facts:
            for name, rows_of in export_of(event.type).sdtm.items():
                dataset = datasets[name]
                for row in rows_of(event):
                    if "VISIT" in row:
                        row = {**row, "VISITNUM": float(visit_numbers.get(row["VISIT"], 0))}
                    numbered[name] = seq = numbered.get(name, 0) + 1  # the subject's rows of this dataset, counted
                    dataset.rows.append(_complete(dataset.domain, study_id, studyid, row, seq))
                    dataset.sources.append((study_id, event.sequence))
    return datasets


def fed_domains() -> set[str]:
    """The domains some kind of event feeds (DM aside)."""
    return {name for export in EVENT_EXPORTS.values() for name in export.sdtm}
