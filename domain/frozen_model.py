"""The base of every domain contract: an immutable, strict-shaped pydantic model that keeps little per instance.

Pydantic gives every instance a set of its own with the names of the fields it was given
(`__pydantic_fields_set__`), and the set is larger than the instance's values: about 730 bytes for a 10-field
model, against about 360 for its `__dict__`. A cached journey holds a few hundred instances for as long as it
waits (its carried state decoded: 100 of its 176 KiB were these sets; docs/performance.md, issue 19), and every
instance given the same fields has the same names. So every instance shares one read-only set of its names with
the others given the same ones.

Safe because a frozen model never changes its names in place: pydantic refuses an assignment before it would add
a name, and `model_copy(update=...)` copies the names before adding to them (`SharedFieldNames.__copy__` gives it
a set of its own). A change in place raises, so it can never alter another instance's names.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from pydantic import BaseModel, ConfigDict


class SharedFieldNames(set[str]):
    """Field names shared by many instances: read-only (a change raises); copied, a set of the caller's own.

    A set, not a frozenset: pydantic's serializer reads them as a set (`exclude_unset`)."""

    __slots__ = ()

    def __copy__(self) -> set[str]:
        return set(self)

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("these field names are shared by other model instances: copy them to change them")

    add = discard = remove = pop = clear = update = _refuse
    intersection_update = difference_update = symmetric_difference_update = _refuse
    __ior__ = __iand__ = __isub__ = __ixor__ = _refuse


# Each distinct set of names once: strings only, bounded by the models' fields (no class is kept here: the sandbox
# defines a workflow module's own models again in every run).
_SHARED_NAMES: dict[frozenset[str], SharedFieldNames] = {}

_set_attribute = object.__setattr__  # a frozen model's own __setattr__ refuses


def shared_field_names(names: set[str] | frozenset[str]) -> SharedFieldNames:
    """The one shared copy of `names`."""
    key = frozenset(names)
    shared = _SHARED_NAMES.get(key)
    if shared is None:
        shared = _SHARED_NAMES.setdefault(key, SharedFieldNames(key))
    return shared


class FrozenModel(BaseModel):
    """Immutable, strict-shaped model: the base of every domain contract. A subclass that defines
    `model_post_init` calls this one's too."""

    # NaN and infinity are never clinical values: refuse them everywhere.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # The names of all the class's fields: what nearly every instance has (a decoded payload names them all).
    _all_field_names: ClassVar[SharedFieldNames] = SharedFieldNames()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._all_field_names = shared_field_names(set(cls.__pydantic_fields__))

    def model_post_init(self, context: Any, /) -> None:
        names = self.__pydantic_fields_set__
        shared = self._all_field_names
        if names != shared:  # a default left out: its own combination, shared all the same
            shared = shared_field_names(names)
        _set_attribute(self, "__pydantic_fields_set__", shared)
