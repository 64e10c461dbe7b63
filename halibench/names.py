"""The one check of every name that becomes part of a path (records, checkpoints, cards,
figures, cache entries): a single path component, never a way out of its folder."""

from __future__ import annotations

import re

from halibench.errors import HalibenchError

MAX_NAME_LENGTH = 64  # a record file name holds four names within 255 bytes
# Letters, digits and . _ - + = @ : (an import string ``pkg.mod:attr`` is a name).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@:-]*")


class UnsafeNameError(HalibenchError, ValueError):
    """A name that cannot safely become part of a file or folder name."""


def safe_name(name: object, what: str) -> str:
    """``name`` unchanged if it is a safe single path component; else UnsafeNameError naming
    ``what`` (e.g. ``--name``) and the rule. Refused: empty, separators, ``..``, control or
    other characters outside ``NAME_PATTERN``, more than ``MAX_NAME_LENGTH`` characters."""
    text = name if isinstance(name, str) else str(name)
    if not text:
        raise UnsafeNameError(f"{what}: empty name; give a name of letters, digits and "
                              ". _ - + = @ :")
    problem = ""
    if len(text) > MAX_NAME_LENGTH:
        problem = f"longer than {MAX_NAME_LENGTH} characters"
    elif ".." in text:
        problem = "contains '..'"
    elif any(sep in text for sep in ("/", "\\")):
        problem = "contains a path separator"
    elif not NAME_PATTERN.fullmatch(text):
        problem = ("must start with a letter or digit and hold only letters, digits and "
                   ". _ - + = @ :")
    if problem:
        raise UnsafeNameError(f"{what} {text!r}: {problem}; it becomes a file name")
    return text
