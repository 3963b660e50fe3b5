"""Every shape error of a JSON fixture, in gicmig's words (JSON-SCHEMA violations).

pydantic checks the fixture's shape against the models of `gicmig.formats.fixture`; this
module turns each of its errors into one `Violation` with the code JSON-SCHEMA, the JSON
location of the key (`config.num_irqs`, `cpus.0.irqs.27.priority`) and a message that says
what the format wants and what the file has (`must be an integer, not the string "2"`).
Alternatives of one key (a CPU number or "unknown") are one violation, not one per
alternative.
"""

from __future__ import annotations

import json
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from gicmig.errors import DecodeError, Violation

CODE = "JSON-SCHEMA"

_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "model_type": "an object", "dict_type": "an object",
    "model_attributes_type": "an object", "list_type": "a list", "none_required": "null",
    "float_type": "a number",
}


class FixtureShapeError(DecodeError):
    """A fixture whose shape is wrong: `.violations` lists every shape error (JSON-SCHEMA)."""

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(CODE, f"{first.path}: {first.message}{more}")
        self.violations = tuple(violations)


def shape_error(exc: PydanticError, raw: Any, model: type[BaseModel]) -> FixtureShapeError:
    """The FixtureShapeError listing every error of `exc` (raised validating `raw`)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for details in exc.errors():
        err: dict[str, Any] = dict(details)
        place, err["_keys"] = _place(raw, err)
        groups.setdefault(place, []).append(err)
    return FixtureShapeError([Violation(CODE, place, _message(errs, model))
                              for place, errs in groups.items()])


def _place(raw: Any, err: Any) -> tuple[str, list[str | int]]:
    """The dotted JSON location of an error: the loc without pydantic's union-member tags."""
    keys: list[str | int] = []
    here = raw
    for part in err["loc"]:
        if _has(here, part):
            here = here[part]
        elif err["type"] == "missing" and isinstance(here, dict) and isinstance(part, str):
            keys.append(part)
            break
        else:
            break  # what follows names a union member, not a key of the file
        keys.append(part)
    return ".".join(str(k) for k in keys) or "(top)", keys


def _has(here: Any, part: str | int) -> bool:
    if isinstance(here, dict):
        return isinstance(part, str) and part in here
    return isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here)


def describe(value: Any) -> str:
    """A JSON value as the message names it: `the string "2"`, `the number 2.0`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = json.dumps(value if len(value) <= 40 else value[:37] + "...")
        return f"the string {text}"
    return "a list" if isinstance(value, list) else "an object"


def _message(errs: list[dict[str, Any]], model: type[BaseModel]) -> str:
    first = errs[0]
    kind = first["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, first["_keys"][:-1])
        return "unknown key" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    wanted = [w for w in (_wanted(e) for e in errs) if w]
    if len(errs) == 1 and kind in ("greater_than_equal", "less_than_equal"):
        bound = first["ctx"]["ge" if kind == "greater_than_equal" else "le"]
        side = "below the minimum" if kind == "greater_than_equal" else "above the maximum"
        return f"{_number(first['input'])} is {side} {_number(bound)}"
    if len(errs) == 1 and kind == "value_error":
        return str(first["ctx"]["error"])
    if wanted and len(wanted) == len(errs):
        return f"must be {' or '.join(dict.fromkeys(wanted))}, not {describe(first['input'])}"
    return "; ".join(dict.fromkeys(str(e["msg"]) for e in errs))  # a case gicmig did not word


def _wanted(err: dict[str, Any]) -> str | None:
    kind = err["type"]
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "literal_error":
        return str(err["ctx"]["expected"]).replace("'", '"')
    if kind == "greater_than_equal":
        return f"an integer from {_number(err['ctx']['ge'])}"
    if kind == "less_than_equal":
        return f"an integer up to {_number(err['ctx']['le'])}"
    return None


def _number(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) and value > 0xFFFF else str(value)


def _allowed_keys(model: type[BaseModel], keys: list[str | int]) -> list[str]:
    """The keys the model allows at a JSON location (for an unknown key's message)."""
    here: Any = model
    for key in keys:
        here = _step(here, key)
        if here is None:
            return []
    here = _model_in(here)
    return list(here.model_fields) if here is not None else []


def _step(annotation: Any, key: str | int) -> Any:
    """The annotation one key further in (through models, lists, dicts and X | None)."""
    model = _model_in(annotation)
    if model is not None:
        field = model.model_fields.get(str(key))
        return None if field is None else field.annotation
    for arg in _members(annotation):
        origin = get_origin(arg)
        if origin is list and isinstance(key, int):
            return get_args(arg)[0]
        if origin is dict and isinstance(key, str):
            return get_args(arg)[1]
    return None


def _members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for arg in _members(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
