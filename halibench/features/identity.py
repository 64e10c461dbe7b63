"""The identity of a user's encoder object: a sha256 of everything that determines its
output, or None when that cannot be established (then its features are never cached).

- ``torch.nn.Module``: for every submodule its class (qualified name and, outside the
  libraries, the source of its defining module and of every user module that module reaches
  through its globals, with those modules' plain global values), its plain settings
  (``vars`` scalars such as a slope or a flag), and every parameter and buffer, persistent
  or not, 0-dim included; a module with hooks has no identity.
- a scikit-learn estimator: its class, ``get_params()`` (nested estimators recursively) and
  its fitted attributes (names ending in ``_``; every attribute of a user's own estimator).
- anything else at the top (a function, a lambda, an object holding a random generator, a
  class with no source file): None.

User modules are those outside the standard library, site-packages and the libraries
above; they are reached through globals (a module, a function, a class, an object of a user
class, a partial) and through import statements anywhere in the source (also inside
``forward``). A global object of the user's code that cannot be hashed leaves the identity
unknown (never cached). Not seen: a module imported by a computed name
(``importlib.import_module(name)``) or a library object without stable content (an open
file, a generator); pass ``use_cache=False`` (``--no-cache``) after changing such code.

Hashing reads the object only; it never changes it.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import hashlib
import importlib.util
import inspect
import site
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

# Module attributes that are bookkeeping, not settings that shape the output.
MODULE_INTERNALS = {"training", "_parameters", "_buffers", "_non_persistent_buffers_set",
                    "_modules", "_backward_pre_hooks", "_backward_hooks", "_is_full_backward_hook",
                    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_state_dict_hooks",
                    "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
                    "_load_state_dict_post_hooks"}
LIBRARIES = {"torch", "sklearn", "torchvision", "timm"}
HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
INSTALLED = tuple({Path(p).resolve() for p in (
    *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
    *site.getsitepackages(), site.getusersitepackages())})


@dataclasses.dataclass
class Call:
    """What one ``object_identity`` call has hashed so far: the object itself (a global
    holding it is hashed by name only), the digest of each module's code, computed once per
    call (``None`` while it is being computed: a module reached again from within), and the
    classes whose class attributes are hashed."""

    root_id: int = 0
    code: dict[str, str | None] = dataclasses.field(default_factory=dict)
    classes: set[str] = dataclasses.field(default_factory=set)


call = Call()  # the current call's state; object_identity resets it


class Unidentifiable(Exception):
    """Raised inside hashing when a part of the object has no stable identity."""


def update_tensor(h: Any, tensor: torch.Tensor) -> None:
    t = tensor.detach().to("cpu").contiguous().reshape(-1)  # reshape: 0-dim tensors too
    h.update(f"tensor:{t.dtype}:{tuple(tensor.shape)}:".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def is_library(cls: type) -> bool:
    return cls.__module__.split(".")[0] in LIBRARIES


def is_user_module(module: Any) -> bool:
    """A module of the user's own code: a source file outside the installed libraries."""
    if not isinstance(module, types.ModuleType) or \
            module.__name__.split(".")[0] in LIBRARIES | {"halibench"}:
        return False
    if module.__name__.split(".")[0] in sys.stdlib_module_names:
        return False
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.endswith(".py"):
        return False
    path = Path(file).resolve()
    return not ({"site-packages", "dist-packages"} & set(path.parts)
                or any(path.is_relative_to(root) for root in INSTALLED))


def module_of(value: Any) -> types.ModuleType | None:
    """The module whose code a global can run: a module itself; the module defining a
    function or class, or an object's class; a partial's function's."""
    if isinstance(value, types.ModuleType):
        return value
    if isinstance(value, functools.partial):
        return module_of(value.func)
    owner = value if isinstance(value, type | types.FunctionType) else type(value)
    name = getattr(owner, "__module__", None)
    module = sys.modules.get(name) if isinstance(name, str) else None
    return module if isinstance(module, types.ModuleType) else None


def imported_modules(module: types.ModuleType) -> list[types.ModuleType]:
    """The loaded modules named by any import statement in ``module``'s source, also one
    inside a function (``from helpers import scale`` in ``forward``)."""
    try:
        tree = ast.parse(module_source(module))
    except (OSError, TypeError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                   module.__package__ or "") \
                    if node.level else node.module or ""
            except (ImportError, ValueError):
                continue
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return [sys.modules[n] for n in dict.fromkeys(names) if n in sys.modules]


def user_module_closure(root: types.ModuleType) -> list[types.ModuleType]:
    """``root`` and every user module it reaches, transitively, through its globals or its
    import statements; sorted by name."""
    found = {root.__name__: root}
    stack = [root]
    while stack:
        module = stack.pop()
        reached = [module_of(v) for v in list(vars(module).values())] + imported_modules(module)
        for other in reached:
            if is_user_module(other) and other.__name__ not in found:
                found[other.__name__] = other
                stack.append(other)
    return [found[name] for name in sorted(found)]


def is_user_object(value: Any) -> bool:
    """A network, a partial, or an instance of a class of the user's own code: its state
    decides the output, so it must be hashed, not skipped."""
    if isinstance(value, types.MethodType):
        return is_user_object(value.__self__) or is_user_module(module_of(value.__func__))
    return isinstance(value, torch.nn.Module | functools.partial) or \
        is_user_module(module_of(value))


def update_globals(h: Any, module: types.ModuleType) -> None:
    """The module's global values: functions, classes and modules are covered by the
    sources; a value halibench can read (numbers, text, arrays, tensors, data frames,
    containers, networks, objects of the user's classes) is hashed; a user's object that
    cannot be hashed leaves the whole identity unknown; any other library object (a logger,
    a typing construct, a sparse matrix) is skipped."""
    for key, value in sorted(vars(module).items()):
        if key.startswith("__") or isinstance(value, types.ModuleType):
            continue
        if id(value) == call.root_id:  # the object being identified: hashed already
            h.update(f"global:{key}:itself;".encode())
        elif isinstance(value, types.FunctionType):  # its source is hashed; its state here
            if is_user_module(module_of(value)):
                h.update(f"global-function:{key}:".encode())
                update_function_state(h, value)
        elif isinstance(value, type):
            if is_user_module(module_of(value)):
                update_class_attributes(h, value)
        else:
            h.update(f"global:{key}:".encode())
            update_global_value(h, value)


def update_global_value(h: Any, value: Any) -> None:
    """A global or class attribute: hashed when halibench can read it; a user's object that
    it cannot read raises Unidentifiable; any other library object is skipped."""
    part = hashlib.sha256()
    try:
        update_value(part, value)
    except Unidentifiable:
        if is_user_object(value):
            raise
        h.update(b"skipped;")
        return
    h.update(part.hexdigest().encode())


def module_source(module: types.ModuleType) -> str:
    """A module's source ("" for an empty file, such as a bare ``__init__.py``)."""
    try:
        return inspect.getsource(module)
    except OSError:
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and Path(file).is_file() and Path(file).stat().st_size == 0:
            return ""
        raise


def update_code(h: Any, module_name: str, what: str) -> None:
    """The source of module ``module_name`` and of every user module it reaches, then their
    global values (a digest computed once per call); Unidentifiable when a source cannot be
    read."""
    if module_name in call.code:
        h.update(f"code:{module_name}:{call.code[module_name] or 'reached again'};".encode())
        return
    call.code[module_name] = None
    part = hashlib.sha256()
    try:
        modules = user_module_closure(sys.modules[module_name])
        for module in modules:
            part.update(f"source:{module.__name__}:".encode())
            part.update(module_source(module).encode())
    except (OSError, TypeError, KeyError, AttributeError):
        raise Unidentifiable(f"no source for {what}") from None
    for module in modules:
        update_globals(part, module)
    call.code[module_name] = part.hexdigest()
    h.update(f"code:{module_name}:{call.code[module_name]};".encode())


def update_class(h: Any, cls: type) -> None:
    """The class's qualified name and, for code outside the libraries, its source and
    ``update_code`` of its module (helpers imported from the user's other files too). A
    class without a source file (defined in ``__main__`` of a notebook, or by ``exec``) has
    no identity."""
    h.update(f"class:{cls.__module__}.{cls.__qualname__}:".encode())
    if is_library(cls):
        return
    try:  # the class's own source must be found too: an exec'd class has none
        h.update(inspect.getsource(cls).encode())
    except (OSError, TypeError):
        raise Unidentifiable(f"no source for {cls.__qualname__}") from None
    update_code(h, cls.__module__, cls.__qualname__)
    update_class_attributes(h, cls)


def update_class_attributes(h: Any, cls: type) -> None:
    """The values the user's classes in ``cls``'s bases hold as class attributes (a scale,
    a table: set at run time, they are not in the source); each class once per call."""
    for base in cls.__mro__:
        key = f"{base.__module__}.{base.__qualname__}"
        if is_library(base) or not is_user_module(module_of(base)) or key in call.classes:
            continue
        call.classes.add(key)
        for name, value in sorted(vars(base).items()):
            if name.startswith("__") or name.startswith("_abc") or isinstance(
                    value, types.FunctionType | staticmethod | classmethod | property):
                continue
            h.update(f"class-attribute:{key}.{name}:".encode())
            update_global_value(h, value)


def update_function_state(h: Any, fn: types.FunctionType) -> None:
    """What a function holds beside its source: closure cells and default arguments."""
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # a cell not yet bound
            cells.append(None)
    kwdefaults = fn.__kwdefaults__ or {}
    for value in [*cells, *(fn.__defaults__ or ()), *(kwdefaults[k] for k in sorted(kwdefaults))]:
        update_global_value(h, value)


def update_user_function(h: Any, fn: types.FunctionType) -> None:
    """A function of the user's code: its name, ``update_code`` of its module, and the
    values its closure and default arguments hold."""
    h.update(f"function:{fn.__module__}.{fn.__qualname__}:".encode())
    update_code(h, fn.__module__, fn.__qualname__)
    update_function_state(h, fn)


def update_user_object(h: Any, value: Any) -> None:
    """An instance of a class of the user's code: its class and its attributes."""
    update_class(h, type(value))
    try:
        attributes = vars(value)
    except TypeError:  # no __dict__
        raise Unidentifiable(type(value).__name__) from None
    update_value(h, attributes)


def update_module(h: Any, module: torch.nn.Module) -> None:
    for name, sub in module.named_modules(remove_duplicate=False):
        if any(getattr(sub, hook, None) for hook in HOOKS):
            raise Unidentifiable(f"module {name or type(sub).__name__} has hooks")
        h.update(f"module:{name}:".encode())
        update_class(h, type(sub))
        for key, value in sorted(vars(sub).items()):
            if key not in MODULE_INTERNALS and not key.startswith("__"):
                h.update(f"attr:{key}:".encode())
                update_value(h, value)
        for key, tensor in sorted({**sub._parameters, **sub._buffers}.items()):
            h.update(f"tensor:{key}:".encode())
            if tensor is not None:
                update_tensor(h, tensor)


def update_estimator(h: Any, estimator: Any) -> None:
    """scikit-learn's own estimators: parameters and fitted ``*_`` attributes; any other
    estimator: every attribute (its fitted state may follow no naming convention)."""
    update_class(h, type(estimator))
    update_value(h, estimator.get_params(deep=False))
    library = is_library(type(estimator))
    for key, value in sorted(vars(estimator).items()):
        if not library or (key.endswith("_") and not key.startswith("_")):
            h.update(f"fitted:{key}:".encode())
            update_value(h, value)


def update_value(h: Any, value: Any) -> None:
    """Hash ``value`` by content; Unidentifiable for what has no stable content."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes
                                   | np.generic | torch.dtype | torch.device):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            update_value(h, value.tolist())
        else:
            h.update(f"array:{value.dtype}:{value.shape}:".encode())
            h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, torch.Tensor):
        update_tensor(h, value)
    elif isinstance(value, pd.DataFrame | pd.Series):
        h.update(f"{type(value).__name__}:{value.shape}:".encode())
        names = value.columns if isinstance(value, pd.DataFrame) else [value.name]
        update_value(h, [str(c) for c in names])
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, list | tuple):
        h.update(f"{type(value).__name__}[{len(value)}]".encode())
        for item in value:
            update_value(h, item)
    elif isinstance(value, dict):
        h.update(f"dict[{len(value)}]".encode())
        for key in sorted(value, key=repr):
            update_value(h, key)
            update_value(h, value[key])
    elif isinstance(value, set | frozenset):
        update_value(h, sorted(value, key=repr))
    elif isinstance(value, enum.Enum):
        h.update(f"enum:{type(value).__qualname__}.{value.name};".encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        update_class(h, type(value))
        update_value(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif isinstance(value, types.FunctionType | types.BuiltinFunctionType) and \
            (value.__module__ or "").startswith("torch"):
        h.update(f"function:{value.__module__}.{value.__qualname__};".encode())
    elif isinstance(value, types.FunctionType) and is_user_module(module_of(value)):
        update_user_function(h, value)
    elif isinstance(value, types.MethodType):
        h.update(b"method:")
        update_value(h, [value.__func__, value.__self__])
    elif isinstance(value, functools.partial):
        h.update(b"partial:")
        update_value(h, [value.func, list(value.args), value.keywords])
    elif isinstance(value, torch.nn.Module):
        update_module(h, value)
    elif hasattr(value, "get_params") and hasattr(value, "fit"):
        update_estimator(h, value)
    elif is_user_module(module_of(value)):
        update_user_object(h, value)
    else:
        raise Unidentifiable(type(value).__name__)


def object_identity(obj: Any) -> str | None:
    """sha256 of what determines ``obj``'s output (see the module doc), or None."""
    if not isinstance(obj, torch.nn.Module) and not (hasattr(obj, "get_params")
                                                     and hasattr(obj, "fit")):
        return None
    global call
    h = hashlib.sha256(b"halibench-object-identity/3;")
    call = Call(root_id=id(obj))
    try:
        update_value(h, obj)
    except (Unidentifiable, RecursionError):  # RecursionError: an object holding itself
        return None
    finally:
        call = Call()
    return h.hexdigest()
