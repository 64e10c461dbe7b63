"""Running a network for features without changing it: the torch modules an encoder runs
(itself, or those a plain callable wraps), eval mode for a block with every submodule's
train/eval flag restored after, and a check that a call left their state as it was."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from halibench.errors import HalibenchError


def _held(obj: Any) -> list[Any]:
    """What ``obj`` holds one step away: a bound method's object, a partial's function and
    arguments, a function's closure cells and the globals its code names (through any
    ``functools.wraps`` decorators, e.g. ``@torch.no_grad()``), else an object's attributes
    (``__dict__`` and ``__slots__``)."""
    if inspect.ismethod(obj):
        return [obj.__self__, *_held(obj.__self__)]
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values(), *_held(obj.func)]
    if inspect.isfunction(obj):
        inner = inspect.unwrap(obj)
        held = [] if inner is obj else [inner, *_held(inner)]
        cells = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        named = [obj.__globals__[n] for n in obj.__code__.co_names if n in obj.__globals__]
        return held + cells + named
    slots = [getattr(obj, n) for cls in type(obj).__mro__
             for n in getattr(cls, "__slots__", ()) if isinstance(n, str) and hasattr(obj, n)]
    try:
        return slots + list(vars(obj).values())
    except TypeError:  # no __dict__ (a builtin, a slotted object)
        return slots


def _filled(cell: Any) -> bool:
    try:
        return cell.cell_contents is not None
    except ValueError:  # a cell not yet bound
        return False


def modules_behind(encoder: Any) -> list[torch.nn.Module]:
    """The torch modules ``encoder`` runs: itself if it is one; else the modules it holds
    one step away (``model.encode``, ``functools.partial(net, ...)``, a function whose
    closure or global names a module, an object whose attributes are modules)."""
    if isinstance(encoder, torch.nn.Module):
        return [encoder]
    found: dict[int, torch.nn.Module] = {}
    for value in _unpacked(_held(encoder), CONTAINER_DEPTH):
        if isinstance(value, torch.nn.Module):
            found.setdefault(id(value), value)
    return list(found.values())


CONTAINER_DEPTH = 3  # lists, tuples, sets and dicts of modules, nested up to this deep


def _unpacked(values: list[Any], depth: int) -> list[Any]:
    """``values`` and the items of those that are containers (a dict's values), nested
    up to ``depth`` deep."""
    out = list(values)
    for value in values:
        if depth and isinstance(value, list | tuple | set | frozenset | dict):
            items = value.values() if isinstance(value, dict) else value
            out += _unpacked(list(items), depth - 1)
    return out


def all_submodules(modules: list[torch.nn.Module]) -> list[torch.nn.Module]:
    seen: dict[int, torch.nn.Module] = {}
    for module in modules:
        for sub in module.modules():
            seen.setdefault(id(sub), sub)
    return list(seen.values())


def modules_device(modules: list[torch.nn.Module]) -> torch.device:
    """Where the first parameter or buffer of ``modules`` lives (CPU when they have none)."""
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")


@contextmanager
def evaluation_mode(modules: list[torch.nn.Module]) -> Iterator[None]:
    """Eval mode and ``inference_mode`` for the block; afterwards every submodule's flag and
    every parameter's ``requires_grad`` is what it was (``train(flag)`` on the root would
    overwrite mixed flags)."""
    subs = all_submodules(modules)
    flags = [m.training for m in subs]
    grads = [(t, t.requires_grad) for m in subs for t in m._parameters.values()
             if t is not None]
    for m in subs:
        m.training = False
    try:
        with torch.inference_mode():
            yield
    finally:
        for m, flag in zip(subs, flags, strict=True):
            m.training = flag
        for t, needs_grad in grads:
            t.requires_grad_(needs_grad)


def _version(tensor: torch.Tensor) -> int | None:
    """The tensor's in-place version counter (None for an inference tensor, which has none)."""
    try:
        return tensor._version
    except RuntimeError:
        return None


class StateChangedError(HalibenchError):
    """An encoder whose call changed its own parameters or buffers."""


@contextmanager
def state_unchanged(modules: list[torch.nn.Module], owner: str) -> Iterator[None]:
    """Refuse a block that changes a parameter or buffer of ``modules`` (in place, or by
    assigning a new tensor): buffers are put back as they were (also when the block raises),
    then StateChangedError names the first one changed. Parameters are not copied (they may
    be large): one changed in place is named, and cannot be put back."""
    subs = all_submodules(modules)
    params = [(m, name, t, _version(t)) for m in subs
              for name, t in m._parameters.items() if t is not None]
    buffers = [(m, name, t, t.detach().clone()) for m in subs
               for name, t in m._buffers.items() if t is not None]
    try:
        yield
    finally:
        changed = []
        for m, name, t, saved in buffers:
            if m._buffers.get(name) is not t or not _same(t, saved):
                changed.append((m, "buffer", name))
                with torch.inference_mode():  # where an inference tensor may be written
                    t.copy_(saved)
                m._buffers[name] = t
    changed += [(m, "parameter", name) for m, name, t, version in params
                if m._parameters.get(name) is not t or _version(t) != version]
    if changed:
        m, what, name = changed[0]
        undo = ("it was put back" if what == "buffer"
                else "halibench cannot put it back; reload your weights")
        raise StateChangedError(
            f"{owner}: calling the encoder changed its {what} {name!r} of {type(m).__name__} "
            f"({undo}); its features would depend on how many batches came before; make "
            "forward a pure function of the images")


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise the same values (NaN equal to NaN), shape and dtype."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    equal = a == b
    if a.is_floating_point() or a.is_complex():
        equal |= (a != a) & (b != b)
    return bool(equal.all())
