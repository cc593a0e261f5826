"""The sandbox every workflow of ours runs in (the worker, the benchmark's replay and the replay tests use this one).

Temporal's sandbox imports a workflow's module afresh for every run, so no run sees another's module state. Two
things make that cheaper per cached workflow, and neither weakens it:

- The pure layers pass through (one copy for the process, not one per run). Safe because none holds state that
  changes per run: `domain` is pure (no I/O, no clock, no Temporal: tests/test_project.py), and its only module-level
  caches (the visit calendar per infusion date) map inputs to frozen values, the same answer for every run;
  `pydantic` and `pydantic_core` hold class definitions and their compiled validators, built once per class.
  The workflow modules (`workflows.*`) are still imported afresh: the sandbox's checks apply to their code.
- The workflow modules' code is compiled (or read from bytecode) once per process, not once per run
  (`WorkflowCodeCache`): a code object is immutable, so runs sharing it share no state; each run still executes
  the module into fresh globals. Without it every run held its own copy of the module's code and paid its
  compilation (no bytecode is written under PYTHONDONTWRITEBYTECODE): the journey's module cost 125 KiB of RSS per
  run, 8 KiB with it (docs/performance.md, issue 19).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Pure layers: one copy per process (see the module's docstring for why each is safe).
PASSED_THROUGH = ("domain", "pydantic", "pydantic_core")
# The packages whose modules the sandbox imports per run, and whose code is compiled once per process.
WORKFLOW_PACKAGES = ("workflows",)


class _CachedCodeLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code object is made once per file and process (the module is executed each time)."""

    def __init__(self, fullname: str, path: str, cache: WorkflowCodeCache) -> None:
        super().__init__(fullname, path)
        self._cache = cache

    def get_code(self, fullname: str) -> CodeType:
        return self._cache.code_for(self.path, lambda: self._compiled(fullname))

    def _compiled(self, fullname: str) -> CodeType:
        code = super().get_code(fullname)
        if code is None:  # a source loader always has code; a None here would be an importlib change
            raise ImportError(f"no code for {fullname} at {self.path}", name=fullname)
        return code


class WorkflowCodeCache(importlib.abc.MetaPathFinder):
    """Finds the modules of `packages` as the path finder does, with a loader that reuses their code objects.

    The code kept is the code as first imported: a file changed under a running worker is not picked up by the next
    run (it would not be by the worker's own registration either: a new deployment restarts the worker)."""

    def __init__(self, packages: Sequence[str] = WORKFLOW_PACKAGES) -> None:
        self._packages = tuple(packages)
        self._codes: dict[str, CodeType] = {}
        self._lock = threading.Lock()

    def covers(self, fullname: str) -> bool:
        return any(fullname == p or fullname.startswith(p + ".") for p in self._packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.covers(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader or spec.origin is None:
            return spec
        spec.loader = _CachedCodeLoader(fullname, spec.origin, self)
        return spec

    def code_for(self, path: str, compile_code: Callable[[], CodeType]) -> CodeType:
        with self._lock:
            code = self._codes.get(path)
        if code is None:
            code = compile_code()
            with self._lock:
                code = self._codes.setdefault(path, code)
        return code

    @property
    def cached_files(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._codes)


_installed: WorkflowCodeCache | None = None
_install_lock = threading.Lock()


def workflow_code_cache() -> WorkflowCodeCache:
    """The process's one cache, first on `sys.meta_path` (installed on first use; the sandbox shares meta_path)."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = WorkflowCodeCache()
        if _installed not in sys.meta_path:
            sys.meta_path.insert(0, _installed)
        return _installed


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandboxed runner for our workflows: the pure layers passed through, workflow code compiled once."""
    workflow_code_cache()
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))
