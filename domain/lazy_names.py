"""A package's names imported when first used (PEP 562), so that importing one light module of the package does not
pull in everything the package exports (the CLI answers at once only if it imports what it shows)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name of `homes` imported from its home module on first use, then
    kept in `namespace` (the package's globals) as a plain attribute."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, not importlib: inside a workflow sandbox it goes through the sandbox's importer.
        value = getattr(__import__(home, fromlist=[name]), name)
        namespace[name] = value
        return value

    return __getattr__
