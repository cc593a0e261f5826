"""`GET /exports/odm` and `GET /exports/sdtm` on a record a real server kept (a dev server, the journey worker, the
trial record): the ODM document and define.xml validate against the official schemas and hold every recorded event
of every patient; only a supervisor may export, others get problem details."""

from __future__ import annotations

import io
import zipfile
from collections import Counter

import pandas as pd
import pytest_asyncio
from lxml import etree

from api.problems import PROBLEM_MEDIA_TYPE
from domain.roles import Role
from exports.odm_names import ODM_NS
from exports.schemas import DEFINE_2_1, ODM_1_3_2, schema_problems
from facade.trial_exports import trial_record
from tests.api.conftest import Api, as_role
from tests.exports.on_server import synthetic_trial

SUPERVISOR = as_role(Role.SUPERVISOR)
INFUSED, FAILED = "XA-1001", "XA-1002"
NS = {"odm": ODM_NS}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kept(api: Api) -> Api:
    await synthetic_trial(api.stack.trial, INFUSED, FAILED)
    return api


async def test_the_odm_export_validates_and_holds_every_recorded_event(kept: Api) -> None:
    response = await kept.http.get("/exports/odm", headers=SUPERVISOR)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    assert response.headers["content-disposition"] == 'attachment; filename="trialflow-odm.xml"'
    assert schema_problems(response.content, ODM_1_3_2) == []
    root = etree.fromstring(response.content)
    record = trial_record(kept.stack.store)
    assert {INFUSED, FAILED} <= set(record)
    for study_id, events in record.items():
        sources = root.xpath(
            f"//odm:SubjectData[@SubjectKey='{study_id}']//odm:AuditRecord/odm:SourceID/text()", namespaces=NS
        )
        assert sorted(sources) == sorted(f"{study_id}#{event.sequence}" for event in events)
    signed = [event for event in record[INFUSED] if event.signature is not None]
    assert any(event.type == "crs_assessed" for event in signed)
    signatures = root.xpath(f"//odm:SubjectData[@SubjectKey='{INFUSED}']//odm:Signature", namespaces=NS)
    assert len(signatures) == len(signed)


async def test_the_sdtm_export_is_an_archive_of_datasets_checked_against_the_record(kept: Api) -> None:
    response = await kept.http.get("/exports/sdtm", headers=SUPERVISOR)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert schema_problems(archive.read("define.xml"), DEFINE_2_1) == []

    def dataset(name: str) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(archive.read(f"{name}.csv")), dtype=str, keep_default_na=False)

    record = trial_record(kept.stack.store)
    assert Counter(dataset("dm")["USUBJID"]) == Counter(set(record))  # one row per subject
    ae = dataset("ae")
    crs = ae[(ae["USUBJID"] == INFUSED) & (ae["AECAT"] == "CRS")]
    assert list(crs["AETOXGR"]) == ["3"] and list(crs["AESCAT"]) == ["ASTCT CONSENSUS GRADING"]
    ex = dataset("ex")
    doses = [e for e in record[INFUSED] if e.type in {"lymphodepletion_dose_given", "cells_infused"}]
    assert len(ex[ex["USUBJID"] == INFUSED]) == len(doses) > 0
    ds = dataset("ds")
    assert list(ds[ds["USUBJID"] == FAILED]["DSDECOD"]) == ["SCREEN FAILURE"]


async def test_only_a_supervisor_may_export(kept: Api) -> None:
    for path in ("/exports/odm", "/exports/sdtm"):
        refused = await kept.http.get(path, headers=as_role(Role.INVESTIGATOR))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert "the investigator role may not export the trial's data" in refused.json()["detail"]
        anonymous = await kept.http.get(path)
        assert anonymous.status_code == 401
