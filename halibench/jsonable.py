"""JSON round trips for frozen config dataclasses (tuples stored as lists)."""

from __future__ import annotations

import math
from dataclasses import Field, asdict, field, fields
from typing import Any, Self


class JsonConfig:
    """Mixin for dataclasses: ``to_dict`` for config.json, ``from_dict`` that rejects
    unknown keys and turns top-level lists back into tuples."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}  # type: ignore[call-overload]

    def check_options(self) -> None:
        """Every option holds one of its declared choices, and every numeric option is finite
        and within its declared bounds (the command line checks these too; this catches a
        config.json edited by hand or a config built in Python)."""
        for f in option_fields(type(self)):
            value, meta = getattr(self, f.name), f.metadata["option"]
            flag = f"--{f.name.replace('_', '-')}"
            if meta["choices"] is not None and value not in meta["choices"]:
                raise ValueError(f"{flag} {value!r}: give one of {', '.join(meta['choices'])}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            low, high = meta["minimum"], meta["maximum"]
            if (not math.isfinite(value) or (low is not None and value < low)
                    or (high is not None and value > high)):
                bounds = " and ".join(b for b in (low is not None and f">= {low}",
                                                  high is not None and f"<= {high}") if b)
                raise ValueError(f"{flag} {value}: give a finite number"
                                 f"{' ' + bounds if bounds else ''}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; "
                             f"valid: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def option(default: Any, help: str, *, minimum: float | None = None,
           maximum: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """A config field that is also a command-line option (``--field-name``): its help text,
    bounds or choices ride in the field's metadata."""
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    return field(default=default, metadata={"option": meta})


def option_fields(cls: type) -> list[Field]:
    """The fields of config dataclass ``cls`` declared with ``option``."""
    return [f for f in fields(cls) if "option" in f.metadata]  # type: ignore[arg-type]
