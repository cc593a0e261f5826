"""`trial report --plot DIR` draws real PNG images, for a cohort, an empty trial, and a report without the prior."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.report_plots import write_report_plots
from domain.protocol import PROTOCOL_V1
from facade import TrialReport, build_report
from tests.facade.test_report import COHORT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _size(path: Path) -> tuple[int, int]:
    image = path.read_bytes()
    assert image.startswith(PNG_SIGNATURE) and image[12:16] == b"IHDR"
    return int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")


def _without_prior(report: TrialReport) -> TrialReport:
    rule = report.stopping_rule.model_copy(update={"prior_alpha": None, "prior_beta": None})
    return report.model_copy(update={"stopping_rule": rule})


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(build_report(COHORT, PROTOCOL_V1), id="a cohort"),
        pytest.param(build_report([], PROTOCOL_V1), id="nobody infused yet"),
        pytest.param(_without_prior(build_report(COHORT, PROTOCOL_V1)), id="an older API's report"),
    ],
)
def test_every_image_is_a_real_png(report: TrialReport, tmp_path: Path) -> None:
    written = write_report_plots(report, tmp_path / "new" / "plots")  # made when missing
    assert [p.name for p in written] == [
        "event_free_survival.png",
        "overall_survival.png",
        "stopping_rule_posterior.png",
    ]
    for path in written:
        assert _size(path) == (700, 450)
        assert path.stat().st_size > 5_000  # axes, titles and whatever there is to draw
