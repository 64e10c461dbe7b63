"""JSON round trips for frozen config dataclasses (tuples stored as lists)."""

from __future__ import annotations

import math
import numbers
from dataclasses import Field, asdict, field, fields
from typing import Any, Self


class JsonConfig:
    """Mixin for dataclasses: ``to_dict`` for config.json, ``from_dict`` that rejects
    unknown keys and turns top-level lists back into tuples."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}  # type: ignore[call-overload]

    def check_options(self) -> None:
        """Every option holds one of its declared choices, and every numeric option is a
        finite number within its declared bounds (the command line checks these too; this
        catches a config.json edited by hand or a config built in Python)."""
        for f in option_fields(type(self)):
            value, meta = getattr(self, f.name), f.metadata["option"]
            flag = f"--{f.name.replace('_', '-')}"
            if meta["choices"] is not None:
                if value not in meta["choices"]:
                    raise ValueError(f"{flag} {value!r}: give one of "
                                     f"{', '.join(meta['choices'])}")
                continue
            low, high = meta["minimum"], meta["maximum"]
            numeric = is_number(f.default) or low is not None or high is not None
            if not (numeric or is_number(value)) or (value is None and f.default is None):
                continue
            if not is_number(value) or not math.isfinite(value) or (
                    low is not None and (value <= low if meta["open_minimum"] else value < low)
                    ) or (high is not None and value > high):
                shown = value if is_number(value) else repr(value)
                raise ValueError(f"{flag} {shown}: give a finite number{bounds_text(meta)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; "
                             f"valid: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def option(default: Any, help: str, *, minimum: float | None = None,
           maximum: float | None = None, open_minimum: bool = False,
           choices: tuple[str, ...] | None = None) -> Any:
    """A config field that is also a command-line option (``--field-name``): its help text,
    bounds (``open_minimum``: the value must exceed ``minimum``) or choices ride in the
    field's metadata."""
    meta = {"help": help, "minimum": minimum, "maximum": maximum,
            "open_minimum": open_minimum, "choices": choices}
    return field(default=default, metadata={"option": meta})


def is_number(value: Any) -> bool:
    """A real number (Python's or numpy's), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def bounds_text(meta: dict[str, Any]) -> str:
    """`` > 0 and <= 1``-style text for an option's declared bounds ('' when unbounded)."""
    low, high = meta["minimum"], meta["maximum"]
    parts = [f"{'>' if meta['open_minimum'] else '>='} {low}" if low is not None else "",
             f"<= {high}" if high is not None else ""]
    text = " and ".join(p for p in parts if p)
    return f" {text}" if text else ""


def option_fields(cls: type) -> list[Field]:
    """The fields of config dataclass ``cls`` declared with ``option``."""
    return [f for f in fields(cls) if "option" in f.metadata]  # type: ignore[arg-type]
