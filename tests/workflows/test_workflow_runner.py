"""The workers' sandbox (workers/workflow_runner.py): workflow code compiled once per process, each run's module still
its own, the pure layers passed through, and the sandbox still refusing a non-deterministic call."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.workflow_runner import PASSED_THROUGH, WorkflowCodeCache, workflow_code_cache, workflow_runner
from workflows.patient_journey import PatientJourneyWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
JOURNEY_MODULE = "workflows.patient_journey"


def fresh_module(cache: WorkflowCodeCache, name: str = JOURNEY_MODULE) -> object:
    """The module as the sandbox gets it: found through the cache, executed into a new module object."""
    parent = name.rpartition(".")[0]
    spec = cache.find_spec(name, sys.modules[parent].__path__ if parent else None)  # as the import system asks
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_workflow_module_is_compiled_once_and_executed_into_new_globals_each_time() -> None:
    cache = WorkflowCodeCache()
    first, second = fresh_module(cache), fresh_module(cache)
    assert first is not second
    # One code object for both: the run's functions share it (immutable), nothing else.
    assert first.PatientJourneyWorkflow.run.__code__ is second.PatientJourneyWorkflow.run.__code__  # type: ignore[attr-defined]
    # Each its own globals and classes: what one run changes, another never sees.
    assert first.PatientJourneyWorkflow is not second.PatientJourneyWorkflow  # type: ignore[attr-defined]
    first.MAX_UPDATES_PER_RUN = 1  # type: ignore[attr-defined]
    assert second.MAX_UPDATES_PER_RUN == 500  # type: ignore[attr-defined]
    assert cache.cached_files == {str(Path(sys.modules[JOURNEY_MODULE].__file__ or ""))}


def test_only_the_workflow_packages_go_through_the_cache() -> None:
    cache = WorkflowCodeCache()
    assert cache.find_spec("domain.journey.decide", sys.modules["domain.journey"].__path__) is None
    assert cache.find_spec("workflowsmith", None) is None  # a name that only starts like the package
    assert cache.find_spec("workflows", None) is not None


def test_the_cache_is_installed_once_before_the_path_finder() -> None:
    workflow_runner()
    workflow_runner()
    cache = workflow_code_cache()
    assert sys.meta_path.index(cache) < sys.meta_path.index(importlib.machinery.PathFinder)  # it must be asked first
    assert sum(1 for finder in sys.meta_path if isinstance(finder, WorkflowCodeCache)) == 1


def test_the_pure_layers_pass_through_and_the_workflows_do_not() -> None:
    passed = workflow_runner().restrictions.passthrough_modules
    assert set(PASSED_THROUGH) <= passed
    assert not any(name == "workflows" or name.startswith("workflows.") for name in passed)


async def test_a_committed_history_replays_twice_on_one_compiled_module() -> None:
    history = WorkflowHistory.from_json("replay", (HISTORIES / "full-journey-run01.json").read_text())
    replayer = Replayer(
        workflows=[PatientJourneyWorkflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )
    await replayer.replay_workflow(history)
    await replayer.replay_workflow(history)
    assert str(Path(sys.modules[JOURNEY_MODULE].__file__ or "")) in workflow_code_cache().cached_files


def test_the_sandbox_still_refuses_a_non_deterministic_call_in_workflow_code(tmp_path: Path) -> None:
    """A workflow module outside the pure layers is still checked: the runner passes through no workflow code."""
    from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError
    from temporalio.workflow import _Definition

    module = tmp_path / "careless_workflow.py"
    module.write_text(
        "import datetime\n"
        "from temporalio import workflow\n\n"
        "NOW = datetime.datetime.now()\n\n"
        "@workflow.defn\n"
        "class CarelessWorkflow:\n"
        "    @workflow.run\n"
        "    async def run(self) -> None:\n"
        "        return None\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        careless = importlib.import_module("careless_workflow")
        with pytest.raises(RestrictedWorkflowAccessError):
            workflow_runner().prepare_workflow(_Definition.must_from_class(careless.CarelessWorkflow))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("careless_workflow", None)
