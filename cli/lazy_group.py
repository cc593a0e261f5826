"""The `trial` group that imports a command's module only when that command is asked for.

Every command module pulls its own libraries (the HTTP client, rich tables, the exports' pandas...), so importing
them all before the first word made `trial version` take seconds. The group knows each command's name and home
module up front (for `--help`, completion and "did you mean"), and imports the home on first use."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup


def commands_of(home: str, name: str | None = None) -> dict[str, Any]:
    """The commands module `home`'s `app` adds to `trial` (under `name` when it is a named sub-group)."""
    holder = typer.Typer()
    holder.add_typer(importlib.import_module(home).app, name=name)
    return dict(typer.main.get_group(holder).commands)


class LazyCommands(MutableMapping[str, Any]):
    """The group's commands: those already built, then the others by name, built from their home on first look-up."""

    def __init__(self, built: Mapping[str, Any], homes: Mapping[str, tuple[str, str | None]]) -> None:
        self._built = dict(built)
        self._homes = dict(homes)  # command name -> (module, sub-group name or None)

    def _load(self, name: str) -> None:
        home, group_name = self._homes[name]
        for command_name, command in commands_of(home, group_name).items():
            self._built.setdefault(command_name, command)

    def __getitem__(self, name: str) -> Any:
        if name not in self._built and name in self._homes:
            self._load(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._built.pop(name)
        self._homes.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._homes

    def __iter__(self) -> Iterator[str]:
        yield from self._built
        yield from (name for name in self._homes if name not in self._built)

    def __len__(self) -> int:
        return len(set(self._built) | set(self._homes))


def lazy_group(homes: Mapping[str, tuple[str, str | None]], help_text: Any) -> type[TyperGroup]:
    """A TyperGroup class whose commands beyond those defined on the app itself come from `homes`; its help is
    `help_text()`, made when help is shown (the top-level help reads the protocol and the custody steps)."""

    class LazyTyperGroup(TyperGroup):
        def __init__(self, **attrs: Any) -> None:
            super().__init__(**attrs)
            self.commands = LazyCommands(self.commands, homes)

        def list_commands(self, ctx: Any) -> list[str]:
            return list(self.commands)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            self.help = help_text()
            super().format_help(ctx, formatter)

    return LazyTyperGroup
