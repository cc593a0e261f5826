"""The record as SDTM-shaped datasets (exports/sdtm.py, exports/sdtm_files.py) on a synthetic record built through
the decider: DM holds one row per subject, DS, EX, AE, RS and SV one row per current recorded fact (checked here
against the record itself); each XPT v5 file reads back equal to its CSV; define.xml validates against the
Define-XML 2.1 schema odmlib ships; no birth date in any file."""

from __future__ import annotations

import io
import math
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from domain.journey import events as ev
from domain.journey.events import Event
from domain.protocol import CURRENT_PROTOCOL
from domain.roles import Actor, Role
from exports.define_xml import DEF_NS
from exports.odm_names import ODM_NS
from exports.schemas import DEFINE_2_1, schema_problems
from exports.sdtm import Dataset, current_facts, sdtm_datasets
from exports.sdtm_domains import DOMAINS
from exports.sdtm_files import DEFINE_FILE, sdtm_archive, write_sdtm
from exports.sdtm_rows import ds_trial_stopped
from tests.exports.synthetic_record import (
    CORRECTION_REASON,
    SCREEN_FAILED,
    TREATED,
    WITHDRAWAL_REASON,
    WITHDRAWN,
    synthetic_record,
)

CREATED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def record() -> dict[str, list[Event]]:
    return synthetic_record()


@pytest.fixture(scope="module")
def datasets(record: dict[str, list[Event]]) -> dict[str, Dataset]:
    return sdtm_datasets(record, CURRENT_PROTOCOL)


@pytest.fixture(scope="module")
def files(record: dict[str, list[Event]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdtm")
    write_sdtm(record, CURRENT_PROTOCOL, folder, created_at=CREATED_AT)
    return folder


def facts(record: dict[str, list[Event]], *kinds: type) -> list[tuple[str, Event]]:
    """Every current fact of these kinds, by subject then sequence: what the datasets must show, one row each."""
    return [
        (study_id, event)
        for study_id in sorted(record)
        for event in current_facts(record[study_id])
        if isinstance(event.payload, kinds)
    ]


def test_dm_holds_one_row_per_subject_with_age_and_no_birth_date(
    datasets: dict[str, Dataset], record: dict[str, list[Event]]
) -> None:
    dm = {row["USUBJID"]: row for row in datasets["DM"].rows}
    assert sorted(dm) == sorted(record) and len(datasets["DM"].rows) == len(record)
    [(_, consent)] = facts({TREATED: record[TREATED]}, ev.ConsentSigned)
    [(_, infused)] = facts({TREATED: record[TREATED]}, ev.CellsInfused)
    treated = dm[TREATED]
    assert treated["AGE"] == consent.payload.age_years and treated["AGEU"] == "YEARS"  # type: ignore[union-attr]
    assert treated["RFICDTC"] == consent.payload.signed_on.isoformat()  # type: ignore[union-attr]
    assert treated["RFSTDTC"] == infused.payload.infused_at.isoformat()  # type: ignore[union-attr]
    assert (treated["ARMCD"], treated["ACTARMCD"], treated["ARMNRS"]) == ("CART", "CART", "")
    failed = dm[SCREEN_FAILED]
    assert (failed["ARMCD"], failed["ACTARMCD"], failed["ARMNRS"]) == ("", "", "SCREEN FAILURE")
    assert "BRTHDTC" not in DOMAINS["DM"].names()


def test_ae_holds_each_crs_and_icans_with_a_grade_on_astct_and_each_current_adverse_event_on_ctcae(
    datasets: dict[str, Dataset], record: dict[str, list[Event]]
) -> None:
    expected = [
        (study_id, event)
        for study_id, event in facts(record, ev.CrsAssessed, ev.IcansAssessed, ev.AdverseEventRecorded)
        if not isinstance(event.payload, ev.CrsAssessed | ev.IcansAssessed) or event.payload.grade > 0
    ]
    ae = datasets["AE"]
    assert ae.sources == [(study_id, event.sequence) for study_id, event in expected]
    for row, (_, event) in zip(ae.rows, expected, strict=True):
        payload = event.payload
        if isinstance(payload, ev.AdverseEventRecorded):
            assert (row["AECAT"], row["AESCAT"]) == ("OTHER", "CTCAE V5.0")
            assert row["AETOXGR"] == str(payload.adverse_event.ctcae_grade)
            assert row["AETERM"] == payload.adverse_event.term.upper()
        else:
            assert isinstance(payload, ev.CrsAssessed | ev.IcansAssessed)
            assert row["AECAT"] == ("CRS" if isinstance(payload, ev.CrsAssessed) else "ICANS")
            assert (row["AESCAT"], row["AETOXGR"]) == ("ASTCT CONSENSUS GRADING", str(payload.grade))
    assert {row["AETOXGR"] for row in ae.rows if row["AECAT"] == "CRS"} == {"1", "3"}
    # CAPD 10 is ICANS grade 3; the grade-0 check is no adverse event.
    assert [row["AETOXGR"] for row in ae.rows if row["AECAT"] == "ICANS"] == ["3"]
    # The corrected adverse event shows once, as corrected.
    [correction] = [e for e in record[TREATED] if e.reason == CORRECTION_REASON]
    other = [row for row in ae.rows if row["AECAT"] == "OTHER"]
    assert [row["AETOXGR"] for row in other] == ["1"] and (TREATED, correction.sequence) in ae.sources
    assert (TREATED, correction.sequence - 1) not in ae.sources


def test_ex_holds_every_dose_and_the_infusion(datasets: dict[str, Dataset], record: dict[str, list[Event]]) -> None:
    expected = facts(record, ev.LymphodepletionDoseGiven, ev.CellsInfused)
    ex = datasets["EX"]
    assert ex.sources == [(study_id, event.sequence) for study_id, event in expected]
    for row, (_, event) in zip(ex.rows, expected, strict=True):
        payload = event.payload
        if isinstance(payload, ev.LymphodepletionDoseGiven):
            assert (row["EXTRT"], row["EXDOSE"], row["EXDOSU"]) == (payload.drug.upper(), payload.dose_mg, "mg")
        else:
            assert isinstance(payload, ev.CellsInfused)
            assert (row["EXDOSE"], row["EXDOSU"]) == (payload.cells_infused, "cells")
    assert [row["EXSEQ"] for row in ex.rows] == list(range(1, len(ex.rows) + 1))


def test_rs_holds_the_response_and_the_mrd_of_each_assessment(
    datasets: dict[str, Dataset], record: dict[str, list[Event]]
) -> None:
    rs = datasets["RS"]
    expected: list[tuple[str, int | None, str]] = []
    for study_id, event in facts(record, ev.DiseaseAssessed):
        assert isinstance(event.payload, ev.DiseaseAssessed)
        expected.append((study_id, event.sequence, "OVRLRESP"))
        if event.payload.marrow.mrd_flow_percent is not None:
            expected.append((study_id, event.sequence, "MRD"))
    assert [(*source, row["RSTESTCD"]) for source, row in zip(rs.sources, rs.rows, strict=True)] == expected
    [mrd] = [row for row in rs.rows if row["RSTESTCD"] == "MRD"]
    assert (mrd["RSSTRESN"], mrd["RSSTRESU"], mrd["RSCAT"]) == (0.001, "%", "MRD NEGATIVE")


def test_sv_and_ds_hold_each_visit_and_each_disposition_fact(
    datasets: dict[str, Dataset], record: dict[str, list[Event]]
) -> None:
    visits = facts(record, ev.VisitCompleted)
    assert datasets["SV"].sources == [(study_id, event.sequence) for study_id, event in visits]
    assert [row["VISIT"] for row in datasets["SV"].rows] == ["D7", "D14"]
    dispositions = facts(record, ev.ConsentSigned, ev.ScreenFailed, ev.ConsentWithdrawn)
    assert datasets["DS"].sources == [(study_id, event.sequence) for study_id, event in dispositions]
    assert [(row["USUBJID"], row["DSDECOD"]) for row in datasets["DS"].rows] == [
        (TREATED, "INFORMED CONSENT OBTAINED"),
        (SCREEN_FAILED, "SCREEN FAILURE"),
        (WITHDRAWN, "INFORMED CONSENT OBTAINED"),
        (WITHDRAWN, "WITHDRAWAL BY PARENT/GUARDIAN"),
    ]


def test_text_longer_than_sas_transport_holds_is_cut_at_200_bytes_on_a_character(datasets: dict[str, Dataset]) -> None:
    [withdrawal] = [row for row in datasets["DS"].rows if row["DSDECOD"] == "WITHDRAWAL BY PARENT/GUARDIAN"]
    term = withdrawal["DSTERM"]
    assert len(WITHDRAWAL_REASON.encode()) > 200 >= len(term.encode()) > 200 - 3
    assert WITHDRAWAL_REASON.startswith(term)
    dm = {row["USUBJID"]: row for row in datasets["DM"].rows}
    assert (dm[WITHDRAWN]["ARMCD"], dm[WITHDRAWN]["ACTARMCD"]) == ("CART", "")
    assert dm[WITHDRAWN]["ARMNRS"] == "ASSIGNED, NOT TREATED"


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_each_xpt_reads_back_equal_to_its_csv(files: Path, name: str) -> None:
    from_csv = pd.read_csv(files / f"{name.lower()}.csv", dtype=str, keep_default_na=False)
    from_xpt, meta = pyreadstat.read_xport(str(files / f"{name.lower()}.xpt"))
    domain = DOMAINS[name]
    assert list(from_csv.columns) == list(from_xpt.columns) == domain.names()
    assert meta.table_name == name and meta.column_names_to_labels["USUBJID"] == "Unique Subject Identifier"
    assert len(from_csv) == len(from_xpt) > 0
    for variable in domain.variables:
        text, transported = list(from_csv[variable.name]), list(from_xpt[variable.name])
        if variable.kind == "Char":
            assert text == transported, variable.name
        else:  # SAS numerics: a missing value is NaN, an empty CSV cell
            assert [math.nan if cell == "" else float(cell) for cell in text] == pytest.approx(
                transported, rel=1e-12, nan_ok=True
            ), variable.name


def test_define_xml_validates_and_describes_each_transport_file(files: Path) -> None:
    document = (files / DEFINE_FILE).read_bytes()
    assert schema_problems(document, DEFINE_2_1) == []
    root = etree.fromstring(document)
    ns = {"odm": ODM_NS, "def": DEF_NS, "xlink": "http://www.w3.org/1999/xlink"}
    hrefs = root.xpath("//def:leaf/@xlink:href", namespaces=ns)
    assert sorted(hrefs) == sorted(f"{name.lower()}.xpt" for name in DOMAINS)
    assert all((files / href).is_file() for href in hrefs)
    for name, domain in DOMAINS.items():
        refs = root.xpath(f"//odm:ItemGroupDef[@OID='IG.{name}']/odm:ItemRef/@ItemOID", namespaces=ns)
        assert refs == [f"IT.{name}.{variable}" for variable in domain.names()]
    broken = etree.fromstring(document)
    for group in broken.iterfind(f".//{{{ODM_NS}}}ItemGroupDef"):
        del group.attrib[f"{{{DEF_NS}}}Structure"]
    assert schema_problems(etree.tostring(broken), DEFINE_2_1)


def test_the_archive_holds_every_file_and_no_birth_date(record: dict[str, list[Event]]) -> None:
    archive = zipfile.ZipFile(io.BytesIO(sdtm_archive(record, CURRENT_PROTOCOL, created_at=CREATED_AT)))
    expected = {f"{name.lower()}.{suffix}" for name in DOMAINS for suffix in ("csv", "xpt")} | {DEFINE_FILE}
    assert set(archive.namelist()) == expected
    births = {events[0].payload.screening.date_of_birth.isoformat() for events in record.values()}  # type: ignore[union-attr]
    for name in archive.namelist():
        content = archive.read(name).decode("latin-1")
        assert not any(birth in content for birth in births), name


def test_the_dsmb_stop_is_a_disposition_only_for_a_patient_it_took_off_study() -> None:
    def stopped(off_study: bool) -> Event:
        return Event(
            study_id="TF-5101",
            sequence=9,
            occurred_at=datetime(2027, 3, 1, 2, tzinfo=UTC),
            actor=Actor(user_id="dsmb.chair", role=Role.DSMB),
            protocol_version=CURRENT_PROTOCOL.version,
            payload=ev.TrialStopped(decision_id="DSMB-4", on=date(2027, 3, 1), off_study=off_study),
        )

    [row] = ds_trial_stopped(stopped(off_study=True))
    assert (row["DSDECOD"], row["DSSTDTC"]) == ("STUDY TERMINATED BY SPONSOR", "2027-03-01")
    assert "DSMB-4" in row["DSTERM"]
    assert ds_trial_stopped(stopped(off_study=False)) == []  # infused: safety follow-up goes on
