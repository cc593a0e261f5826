"""`trial export odm [--output FILE]` and `trial export sdtm --output DIR`: the API's exports for a signed-in
supervisor, into owner-only files; bad input exits 2 naming each problem and writes nothing; another role is refused
in plain words."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import pytest_asyncio

from cli.common import USAGE_ERROR_EXIT_CODE
from cli.staff import REFUSED_EXIT_CODE
from domain.roles import Role
from exports.schemas import DEFINE_2_1, ODM_1_3_2, schema_problems
from tests.cli.trial_cli import TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.exports.on_server import synthetic_trial
from tests.servers import Stack

INFUSED, FAILED = "XC-1001", "XC-1002"
DATASETS = ("dm", "ds", "ex", "ae", "rs", "sv")


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def anonymous(
    stack: Stack, quiet_worker: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TrialCli]:
    async with trial_cli_over_api(stack, tmp_path_factory.mktemp("exports-cli")) as cli:
        yield cli


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(anonymous: TrialCli, stack: Stack) -> TrialCli:
    await synthetic_trial(stack.trial, INFUSED, FAILED)
    return await anonymous.signed_in("monitor.exports", Role.SUPERVISOR)


async def test_odm_into_an_owner_only_file_and_on_stdout(cli: TrialCli, tmp_path: Path) -> None:
    target = tmp_path / "trial.xml"
    result = await cli("export", "odm", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert f"Wrote the trial record as CDISC ODM 1.3.2 to {target}" in result.stderr and result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    document = target.read_bytes()
    assert schema_problems(document, ODM_1_3_2) == []
    assert f'SubjectKey="{INFUSED}"'.encode() in document and f'SubjectKey="{FAILED}"'.encode() in document
    on_stdout = await cli("export", "odm")
    assert on_stdout.exit_code == 0 and 'ODMVersion="1.3.2"' in on_stdout.stdout


async def test_sdtm_into_a_directory_it_makes(cli: TrialCli, tmp_path: Path) -> None:
    folder = tmp_path / "sdtm"
    result = await cli("export", "sdtm", "--output", str(folder))
    assert result.exit_code == 0, result.output
    expected = {f"{name}.{suffix}" for name in DATASETS for suffix in ("csv", "xpt")} | {"define.xml"}
    assert {path.name for path in folder.iterdir()} == expected
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in folder.iterdir())
    assert schema_problems((folder / "define.xml").read_bytes(), DEFINE_2_1) == []
    dm, _ = pyreadstat.read_xport(str(folder / "dm.xpt"))
    assert sorted(dm["USUBJID"]) == [INFUSED, FAILED]
    assert list(pd.read_csv(folder / "dm.csv", dtype=str)["USUBJID"]) == list(dm["USUBJID"])


async def test_bad_output_is_named_and_nothing_is_asked(cli: TrialCli, tmp_path: Path) -> None:
    missing = await cli("export", "odm", "--output", str(tmp_path / "missing" / "a.xml"), "--colour")
    assert missing.exit_code == USAGE_ERROR_EXIT_CODE
    assert "2 problems with the input" in missing.stderr and "does not exist" in missing.stderr
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    not_a_directory = await cli("export", "sdtm", "--output", str(a_file))
    assert not_a_directory.exit_code == USAGE_ERROR_EXIT_CODE and "is a file" in not_a_directory.stderr


async def test_another_role_is_refused_in_plain_words(anonymous: TrialCli, cli: TrialCli, tmp_path: Path) -> None:
    nurse = await anonymous.signed_in("nurse.exports", Role.NURSE)
    result = await nurse("export", "sdtm", "--output", str(tmp_path / "out"))
    assert result.exit_code == REFUSED_EXIT_CODE
    assert "the nurse role may not export the trial's data" in result.stderr
    assert not (tmp_path / "out").exists()
