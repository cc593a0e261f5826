"""`GET /exports/odm` and `GET /exports/sdtm`: the whole trial record in the standards a sponsor or regulator reads
(CDISC ODM 1.3.2; SDTM datasets as CSV and XPT v5 with define.xml 2.1), for supervisors."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Response

from api.dependencies import Exporter, TrialDep
from api.problems import problem_responses

router = APIRouter(tags=["supervisors"])

ODM_MEDIA_TYPE: Final = "application/xml"
SDTM_MEDIA_TYPE: Final = "application/zip"
ODM_FILE: Final = "trialflow-odm.xml"
SDTM_FILE: Final = "trialflow-sdtm.zip"


@router.get(
    "/exports/odm",
    response_class=Response,
    responses={
        200: {"description": "The ODM 1.3.2 document", "content": {ODM_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 503),
    },
    summary="The trial record as CDISC ODM 1.3.2: study metadata, clinical data with audit records and signatures",
    description=(
        "One Snapshot document: the study metadata of each protocol version in use (study events = the treatment "
        "phases and the protocol's visits, forms = the steps, items with data types and units, code lists for the "
        "ASTCT and CTCAE grades), the staff (AdminData), and every patient's events as forms with their audit record "
        "(who, when, why: a correction's reason) and electronic signature. No names or birth dates. Supervisors only."
    ),
)
async def odm(_: Exporter, client: TrialDep) -> Response:
    return Response(
        await client.odm_export(),
        media_type=ODM_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{ODM_FILE}"'},
    )


@router.get(
    "/exports/sdtm",
    response_class=Response,
    responses={
        200: {
            "description": "A zip archive: dm, ds, ex, ae, rs, sv as .csv and .xpt (SAS transport v5), and define.xml",
            "content": {SDTM_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 403, 503),
    },
    summary="The trial record as SDTM-shaped datasets (CSV and XPT v5) with their define.xml 2.1",
    description=(
        "DM (one row per subject; USUBJID = study id, age in years, no birth date), DS, EX, AE (CRS and ICANS on the "
        "ASTCT scale, other adverse events on CTCAE), RS (response, MRD) and SV (visits): one row per current fact "
        "(a corrected entry is replaced by its correction). Supervisors only."
    ),
)
async def sdtm(_: Exporter, client: TrialDep) -> Response:
    return Response(
        await client.sdtm_export(),
        media_type=SDTM_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{SDTM_FILE}"'},
    )
