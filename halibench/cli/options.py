"""Click options made from config dataclass fields declared with ``jsonable.option``."""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import Field
from typing import Any

import click

from halibench.jsonable import option_fields


def value_type(f: Field, owner: type) -> type:
    """The field's Python type (``X | None`` gives X)."""
    hint = typing.get_type_hints(owner)[f.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return str if typing.get_origin(hint) is typing.Literal else hint


class FiniteFloat(click.FloatRange):
    """A float in an optional range that refuses nan and inf (click's range lets nan in)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number

    def _describe_range(self) -> str:
        if self.min is None and self.max is None:
            return "finite"
        return super()._describe_range()


def click_option(f: Field, owner: type) -> Callable:
    """One ``--field-name`` option: type, bounds, choices, default and help from the field."""
    meta = f.metadata["option"]
    flag = "--" + f.name.replace("_", "-")
    kind = value_type(f, owner)
    if kind is bool:
        return click.option(flag, is_flag=True, default=f.default, help=meta["help"])
    if meta["choices"]:
        ptype: Any = click.Choice(list(meta["choices"]))
    elif kind is float:
        ptype = FiniteFloat(min=meta["minimum"], max=meta["maximum"],
                            min_open=meta["open_minimum"])
    elif kind is int and (meta["minimum"] is not None or meta["maximum"] is not None):
        ptype = click.IntRange(min=meta["minimum"], max=meta["maximum"],
                               min_open=meta["open_minimum"])
    else:
        ptype = kind
    return click.option(flag, type=ptype, default=f.default, help=meta["help"],
                        show_default=f.default is not None)


def config_options(*owners: type) -> Callable:
    """Decorator adding an option for every ``option`` field of each config dataclass."""
    def decorate(command: Callable) -> Callable:
        for owner in reversed(owners):
            for f in reversed(option_fields(owner)):
                command = click_option(f, owner)(command)
        return command
    return decorate


def split_options(options: dict[str, Any], owner: type) -> dict[str, Any]:
    """The entries of ``options`` that are ``option`` fields of ``owner``."""
    names = {f.name for f in option_fields(owner)}
    return {k: v for k, v in options.items() if k in names}
