"""The Dockerfile and its build context: a pinned base, a plain user, no secret, the project installed from
pyproject without dev extras, a command that exists, and a context holding the packages and nothing else."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.compose_files import REPOSITORY
from tests.deployment.docker_build import (
    DOCKERFILE,
    Instruction,
    Stage,
    assignments,
    build_context,
    build_stages,
    is_excluded,
    parse_dockerfile,
    read_dockerignore,
)
from tests.deployment.settings_fields import setting_variables

SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stages(instructions: list[Instruction]) -> list[Stage]:
    return build_stages(instructions)


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context() -> set[str]:
    return build_context()


def listed_packages(pyproject: dict[str, Any]) -> list[str]:
    """pyproject's package list (`domain*`, ...) as the top-level package directories it names."""
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*").rstrip(".") for pattern in patterns]


def test_a_build_stage_and_a_runtime_stage_from_one_pinned_python(stages: list[Stage]) -> None:
    assert [stage.name for stage in stages] == ["build", "runtime"]
    for stage in stages:
        image, _, tag = stage.base_image.partition(":")
        assert image == "python", stage.base_image
        assert re.fullmatch(r"3\.11\.\d+-slim(-[a-z]+)?", tag), f"{stage.base_image}: pin python 3.11's patch release"


def test_the_runtime_runs_as_a_plain_user(stages: list[Stage]) -> None:
    users = [instruction.arguments for instruction in stages[-1].instructions if instruction.keyword == "USER"]
    assert users, "the runtime stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    assert user.isdigit(), "a numeric user lets an orchestrator check runAsNonRoot"
    last_user_at = max(i for i, step in enumerate(stages[-1].instructions) if step.keyword == "USER")
    assert all(step.keyword != "RUN" for step in stages[-1].instructions[last_user_at:]), "nothing runs as root after"


def test_no_secret_is_baked_into_the_image(instructions: list[Instruction]) -> None:
    for instruction in instructions:
        if instruction.keyword in ("ENV", "ARG"):
            for name in assignments(instruction):
                assert not SECRET_NAME.search(name), f"line {instruction.line}: {name} would stay in the image"
        if instruction.keyword in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|secret|\.pem|\.key\b", instruction.arguments), instruction.arguments


def test_trialflow_variables_in_the_image_are_settings(stages: list[Stage]) -> None:
    known = setting_variables()
    set_in_image = {
        name
        for instruction in stages[-1].instructions
        if instruction.keyword == "ENV"
        for name in assignments(instruction)
        if name.startswith("TRIALFLOW_")
    }
    assert set_in_image, "the image sets its data directory and JSON logs"
    assert set_in_image <= set(known), sorted(set_in_image - set(known))


def test_the_project_is_installed_from_pyproject_without_dev_extras(stages: list[Stage]) -> None:
    build = stages[0].instructions
    runs = " ".join(step.arguments for step in build if step.keyword == "RUN")
    assert "['project']['dependencies']" in runs, "dependencies come from pyproject's own list"
    assert re.search(r"pip install --no-deps \.(\s|$)", runs), "then the project itself, not editable"
    assert "[dev]" not in runs and "optional-dependencies" not in runs
    copies = [step for step in stages[-1].instructions if step.keyword == "COPY"]
    assert [step.flags.get("from") for step in copies] == ["build"], "the runtime takes only the build's venv"


def test_the_build_copies_pyproject_and_every_listed_package(
    instructions: list[Instruction], pyproject: dict[str, Any], context: set[str]
) -> None:
    sources = [step.words[:-1] for step in instructions if step.keyword == "COPY" and "from" not in step.flags]
    copied = {path for words in sources for path in context if any(_copies(word, path) for word in words)}
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    for package in listed_packages(pyproject):
        if (REPOSITORY / package).is_dir():
            assert f"{package}/__init__.py" in copied, f"{package} is listed in pyproject but not copied"
    assert "records/migrations/alembic.ini" in copied, "package data (migrations) travel with the package"


def _copies(source: str, path: str) -> bool:
    return source == "." or path == source or path.startswith(source.rstrip("/") + "/")


def test_the_build_context_holds_nothing_but_the_project(pyproject: dict[str, Any], context: set[str]) -> None:
    allowed_roots = {"pyproject.toml", pyproject["project"]["readme"], *listed_packages(pyproject)}
    strays = sorted(path for path in context if path.split("/")[0] not in allowed_roots)
    assert not strays, f"sent to the Docker daemon but not part of the project: {strays[:10]}"
    assert not [path for path in context if "__pycache__" in path or path.endswith(".pyc")]


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "api/.env",
        "api/.env.local",
        ".venv/bin/python",
        ".data/temporal.db",
        ".git/config",
        "config/staff-directory.toml",
        "tests/test_project.py",
        ".pytest_cache/v/cache",
        "records/__pycache__/store.cpython-311.pyc",
        "docker-compose.yml",
        "trialflow.egg-info/PKG-INFO",
    ],
)
def test_the_ignore_file_keeps_out(path: str) -> None:
    assert is_excluded(path, read_dockerignore())


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "domain/protocol.py", "records/migrations/env.py"])
def test_the_ignore_file_lets_in(path: str) -> None:
    assert not is_excluded(path, read_dockerignore())


def test_the_ignore_file_lets_in_every_package_pyproject_lists(pyproject: dict[str, Any]) -> None:
    patterns = read_dockerignore()
    for package in listed_packages(pyproject):
        # Packages still to come (listed, not yet written) are let in already, so their first build includes them.
        assert not is_excluded(f"{package}/__init__.py", patterns), package


def test_the_default_command_runs_the_worker_module(instructions: list[Instruction]) -> None:
    (command,) = [step for step in instructions if step.keyword == "CMD"]
    assert command.exec_form == ["python", "-m", "workers"], "exec form: the process gets SIGTERM itself"
    assert not [step for step in instructions if step.keyword == "ENTRYPOINT"], "compose's commands replace CMD"
    spec = importlib.util.find_spec("workers.__main__")
    assert spec is not None and spec.origin and Path(spec.origin).is_relative_to(REPOSITORY)


def test_the_parser_reads_continuations_and_comments() -> None:
    text = "ARG BASE=python:3.11.9-slim\nFROM ${BASE} AS one\n# note\nRUN a \\\n    # inside\n    && b\nENV X=1 Y=two\n"
    parsed = parse_dockerfile(text)
    assert [(step.keyword, step.arguments) for step in parsed] == [
        ("ARG", "BASE=python:3.11.9-slim"),
        ("FROM", "${BASE} AS one"),
        ("RUN", "a && b"),
        ("ENV", "X=1 Y=two"),
    ]
    (stage,) = build_stages(parsed)
    assert (stage.base_image, stage.name) == ("python:3.11.9-slim", "one")
    assert assignments(parsed[-1]) == {"X": "1", "Y": "two"}
