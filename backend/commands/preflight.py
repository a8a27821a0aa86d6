"""Checks on a parsed request before any work: outputs writable, no output that is an input.

Output fields are the request fields whose name starts with ``output`` (at any depth); a field
declared with ``metadata=FOLDER_OUTPUT`` is a folder (a model). Every other text field that names
an existing file or folder is an input. An output that is the same file as an input (also through
symlinks, hard links or another spelling of the path; a GeoPackage counts whole, whatever the
layer) is refused: st_analyzer never writes over what it reads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backend.data.atomic import check_writable
from backend.data.gdal_names import file_of
from backend.errors import UserInputError

FOLDER_OUTPUT = {"folder": True}


def _fields(request: Any, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(dotted name, field, value) of every field, nested dataclasses and lists included."""
    for spec in dataclasses.fields(request):
        value = getattr(request, spec.name)
        name = prefix + spec.name
        if dataclasses.is_dataclass(value):
            yield from _fields(value, name + ".")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    yield from _fields(item, f"{name}[{i}].")
                else:
                    yield f"{name}[{i}]", spec, item
        else:
            yield name, spec, value


def _is_output(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("output")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_request_paths(request: Any) -> None:
    """Raise :class:`UserInputError` for an unwritable output or an output that is an input."""
    outputs: list[tuple[str, Path]] = []
    inputs: list[tuple[str, Path]] = []
    for name, spec, value in _fields(request):
        if not isinstance(value, str) or not value.strip():
            continue
        if _is_output(name):
            path = check_writable(value, folder=bool(spec.metadata.get("folder")))
            outputs.append((name, path))
        elif len(value) < 4096 and os.path.exists(file_of(value)):
            inputs.append((name, Path(file_of(value))))
    for out_name, out_path in outputs:
        for in_name, in_path in inputs:
            if out_path.exists() and _same_file(out_path, in_path):
                raise UserInputError(
                    f"The output {out_path} ({out_name}) is the input file {in_path} ({in_name}). st_analyzer "
                    "never writes over its inputs: choose another output path."
                )
    seen: dict[str, str] = {}
    for out_name, out_path in outputs:
        key = os.path.realpath(out_path)
        if key in seen:
            raise UserInputError(
                f"{seen[key]} and {out_name} are the same file ({out_path}); give each output its own path."
            )
        seen[key] = out_name
