"""Command registry and typed requests: one dataclass per command, filled from JSON."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.errors import UserInputError
from backend.progress import Reporter


@dataclass
class CommandResult:
    """What a command returns: output paths by name and a JSON-friendly summary."""

    outputs: dict[str, str]
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, produced: dict[str, str | None], summary: dict[str, Any] | None = None) -> CommandResult:
        """A result from output paths by name (absolute; outputs not asked for, None, are left out)."""
        return cls({name: str(Path(path).absolute()) for name, path in produced.items() if path}, summary or {})


@dataclass(frozen=True)
class Command:
    name: str
    request_type: type
    run: Callable[..., CommandResult]
    title: str


COMMANDS: dict[str, Command] = {}


def command(name: str, request_type: type, title: str):
    """Register ``function(request, reporter) -> CommandResult`` as CLI command ``name``."""

    def decorate(function: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
        COMMANDS[name] = Command(name, request_type, function, title)
        return function

    return decorate


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise UserInputError(f"Request field {where!r} must be an object.")
        return request_from_dict(annotation, value, prefix=f"{where}.")
    if origin is list:
        if not isinstance(value, list):
            raise UserInputError(f"Request field {where!r} must be a list.")
        return [_coerce(v, args[0] if args else Any, f"{where}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (str, int, float, bool) and not isinstance(value, annotation):
        raise UserInputError(f"Request field {where!r} must be {annotation.__name__}, got {value!r}.")
    return value


def request_from_dict(request_type: type, data: dict[str, Any], prefix: str = ""):
    """Build a request dataclass from JSON data; unknown or missing fields are clear errors."""
    hints = typing.get_type_hints(request_type)
    known = {f.name: f for f in dataclasses.fields(request_type)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserInputError(f"Unknown request field(s): {', '.join(prefix + u for u in unknown)}.")
    kwargs = {}
    for name, spec in known.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], prefix + name)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise UserInputError(f"The request lacks the required field {prefix + name!r}.")
    return request_type(**kwargs)


MEMORY_LIMIT_FIELD = "memory_limit_mb"  # accepted by every command: the run's memory budget (MB, 0 = default)
# also accepted by every command: "scheduler" (backend.scale.scheduler.SCHEDULER_FIELD), where chunked work runs


def run_command(name: str, request: dict[str, Any], reporter: Reporter | None = None) -> CommandResult:
    """Run a registered command from a JSON-like request (plain-Python entry point).

    Before any work: the request is checked (types, outputs writable, no output that is an input)."""
    from backend import commands  # noqa: F401  (registers the commands)
    from backend.commands.preflight import check_request_paths
    from backend.memory import set_limit_mb
    from backend.scale.scheduler import SCHEDULER_FIELD, set_scheduler

    if name not in COMMANDS:
        raise UserInputError(f"Unknown command {name!r}; available: {', '.join(sorted(COMMANDS))}.")
    spec = COMMANDS[name]
    request = dict(request)
    limit = request.pop(MEMORY_LIMIT_FIELD, None)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))):
        raise UserInputError(f"Request field {MEMORY_LIMIT_FIELD!r} must be a number of MB, got {limit!r}.")
    set_limit_mb(limit)
    scheduler = request.pop(SCHEDULER_FIELD, None)
    if scheduler is not None and not isinstance(scheduler, str):
        raise UserInputError(f"Request field {SCHEDULER_FIELD!r} must be text, got {scheduler!r}.")
    set_scheduler(scheduler)
    parsed = request_from_dict(spec.request_type, request)
    check_request_paths(parsed)
    return spec.run(parsed, reporter or Reporter())
