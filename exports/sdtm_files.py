"""The SDTM datasets as files: each as CSV and as SAS transport (XPT version 5, written by pyreadstat), with
define.xml beside them; and all of them as one zip archive, what `GET /exports/sdtm` answers.

pyreadstat (ReadStat's Python binding, maintained and widely used) writes XPT v5 and reads it back; the `xport`
package has not been released since 2022."""

from __future__ import annotations

import csv
import io
import math
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from domain.journey.events import Event
from domain.protocol import TrialProtocol
from exports.define_xml import define_document, xpt_file
from exports.sdtm import Dataset, sdtm_datasets

DEFINE_FILE = "define.xml"


def csv_file(dataset: Dataset) -> str:
    return f"{dataset.name.lower()}.csv"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_text(dataset: Dataset) -> str:
    """A header of the variable names, then a row per record; a missing number is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = dataset.domain.names()
    writer.writerow(names)
    for row in dataset.rows:
        writer.writerow([_cell(row[name]) for name in names])
    return buffer.getvalue()


def data_frame(dataset: Dataset) -> pd.DataFrame:
    """The dataset with its SAS types: Num as float64 (missing is NaN), Char as text (missing is "")."""
    columns: dict[str, Any] = {}
    for variable in dataset.domain.variables:
        values = [row[variable.name] for row in dataset.rows]
        if variable.kind == "Num":
            columns[variable.name] = pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
        else:
            columns[variable.name] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
    return pd.DataFrame(columns)


def write_xpt(dataset: Dataset, path: Path) -> None:
    domain = dataset.domain
    pyreadstat.write_xport(
        data_frame(dataset),
        str(path),
        file_label=domain.label[:40],
        table_name=domain.name,
        column_labels={variable.name: variable.label for variable in domain.variables},
        file_format_version=5,
    )


def write_sdtm(
    records: Mapping[str, Sequence[Event]], protocol: TrialProtocol, directory: Path, *, created_at: datetime
) -> list[Path]:
    """Every dataset's CSV and XPT, and define.xml, into `directory` (which exists); the files written."""
    datasets = sdtm_datasets(records, protocol)
    written: list[Path] = []
    for dataset in datasets.values():
        text_path = directory / csv_file(dataset)
        text_path.write_text(csv_text(dataset), encoding="utf-8", newline="")
        transport_path = directory / xpt_file(dataset)
        write_xpt(dataset, transport_path)
        written += [text_path, transport_path]
    define_path = directory / DEFINE_FILE
    define_path.write_bytes(define_document(datasets, protocol, created_at=created_at))
    return [*written, define_path]


def sdtm_archive(records: Mapping[str, Sequence[Event]], protocol: TrialProtocol, *, created_at: datetime) -> bytes:
    """The files of `write_sdtm` as one zip archive (flat: the names only)."""
    with tempfile.TemporaryDirectory(prefix="trialflow-sdtm-") as folder:
        files = write_sdtm(records, protocol, Path(folder), created_at=created_at)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, arcname=path.name)
    return buffer.getvalue()
