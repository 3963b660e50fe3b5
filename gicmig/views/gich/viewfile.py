"""The GICH view interchange format `gicmig.gich-view/1`: reading, writing, JSON Schema.

A GICH view is what a hypervisor holds for a GICv2 guest accelerated through the
virtualization extensions: per vCPU the virtual interface control registers (GICH_VTR,
HCR, VMCR, APR, the list registers and, optionally, MISR/EISRn/ELRSRn as read), plus the
hypervisor's emulated-distributor image as a canonical gicmig state. The meaning of each
register is defined in `gicmig.views.gich` and docs/gich.md; this module only reads and
writes the JSON, strictly: every failure is a `DecodeError` whose message names the place
(`vcpus[1].lr[3]`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from gicmig.core.model import GicState
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats.fixture_write import FORMAT as FIXTURE_FORMAT
from gicmig.limits import loads_json

FORMAT = "gicmig.gich-view/1"
MAX_VCPUS = 8
MAX_LRS = 64
REQUIRED = ("vtr", "hcr", "vmcr", "apr", "lr")
STATUS = ("misr", "eisr0", "eisr1", "elrsr0", "elrsr1")  # optional, as the hypervisor read them
_HEX = re.compile(r"0x[0-9a-fA-F]{1,8}\Z")


@dataclass(frozen=True)
class VcpuRegs:
    """One vCPU's GICH registers. `None` for a status register means "not supplied"."""

    vtr: int
    hcr: int
    vmcr: int
    apr: int
    lr: tuple[int, ...]
    misr: int | None = None
    eisr0: int | None = None
    eisr1: int | None = None
    elrsr0: int | None = None
    elrsr1: int | None = None


@dataclass(frozen=True)
class GichView:
    """A whole GICH view: one `VcpuRegs` per vCPU and the distributor image."""

    vcpus: tuple[VcpuRegs, ...]
    distributor: GicState

    def to_json(self, distributor: str = "fixture") -> str:
        """Deterministic JSON; the image embedded as a JSON fixture or a base64 blob."""
        return to_json(self, distributor=distributor)


def _fail(where: str, message: str, code: str = "GICH-VIEW-SCHEMA") -> DecodeError:
    return DecodeError(code, f"{where}: {message}")


def _u32(value: Any, where: str) -> int:
    """A JSON number or a "0x..." string holding a 32-bit register value."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _fail(where, f"expected a 32-bit integer or a \"0x...\" string, got {value!r:.40}")
    if isinstance(value, str):
        if not _HEX.match(value):
            raise _fail(where, f"{value!r:.40} is not a \"0x...\" hex string of at most 8 digits")
        return int(value, 16)
    if not 0 <= value <= 0xFFFF_FFFF:
        raise _fail(where, f"{value} is not a 32-bit register value")
    return value


def _object(value: Any, where: str, required: tuple[str, ...],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}")
    unknown = sorted(k for k in value if k not in required and k not in optional)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}")
    return value


def _vcpu(doc: Any, where: str) -> VcpuRegs:
    d = _object(doc, where, REQUIRED, STATUS)
    lrs = d["lr"]
    if not isinstance(lrs, list) or not 1 <= len(lrs) <= MAX_LRS:
        raise _fail(f"{where}.lr", f"expected a list of 1..{MAX_LRS} list registers")
    status = {k: _u32(d[k], f"{where}.{k}") for k in STATUS if k in d}
    return VcpuRegs(
        _u32(d["vtr"], f"{where}.vtr"), _u32(d["hcr"], f"{where}.hcr"),
        _u32(d["vmcr"], f"{where}.vmcr"), _u32(d["apr"], f"{where}.apr"),
        tuple(_u32(v, f"{where}.lr[{n}]") for n, v in enumerate(lrs)), **status)


def _distributor(doc: Any, base_dir: str | None) -> GicState:
    from gicmig.files import read_below
    from gicmig.formats.io import load

    if isinstance(doc, dict) and "format" in doc:
        from gicmig.formats.fixture import from_json

        return _wrap(lambda: from_json(json.dumps(doc)))
    d = _object(doc, "distributor", (), ("path", "blob_base64"))
    if len(d) != 1:
        raise _fail("distributor", "expected an embedded JSON fixture, or exactly one of "
                    "\"path\" and \"blob_base64\"")
    if "path" in d:
        if not isinstance(d["path"], str) or not d["path"]:
            raise _fail("distributor.path", "expected a non-empty string")
        if os.path.isabs(d["path"]):  # a view names a file beside it, not anywhere
            raise _fail("distributor.path", "must be relative to the view's directory")
        path = os.path.join(base_dir or ".", d["path"])
        data = read_below(base_dir, d["path"], "distributor.path")
        return _wrap(lambda: load(data), f"distributor image {path}")
    if not isinstance(d["blob_base64"], str):
        raise _fail("distributor.blob_base64", "expected a base64 string")
    try:
        blob = base64.b64decode(d["blob_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise _fail("distributor.blob_base64", "not valid base64") from None
    return _wrap(lambda: load(blob))


def distributor_path(text: str | bytes, base_dir: str | None) -> str | None:
    """The file a view's `distributor.path` names, if any: an input too, so a command
    that writes must not overwrite it."""
    try:
        doc = loads_json(text)
    except (ValueError, RecursionError):
        return None  # parse_view reports it
    d = doc.get("distributor") if isinstance(doc, dict) else None
    if isinstance(d, dict) and isinstance(d.get("path"), str) and d["path"]:
        return os.path.join(base_dir or ".", d["path"])
    return None


def _wrap(read: Any, what: str = "distributor image") -> GicState:
    """Read the image, keeping the inner reason code and naming where it came from."""
    try:
        state: GicState = read()
    except GicmigError as exc:
        exc.message = f"{what}: {exc.message}"
        exc.args = (exc.message,)
        raise
    return state


def parse_view(text: str | bytes, *, base_dir: str | None = None) -> GichView:
    """A `GichView` from `gicmig.gich-view/1` JSON (strict: unknown keys are refused).

    `base_dir` resolves a `{"path": ...}` distributor reference (default: the current
    directory). The image is read and validated like any gicmig input.
    """
    try:
        doc = loads_json(text)
    except (ValueError, RecursionError) as exc:
        pos = getattr(exc, "pos", None)
        raise DecodeError("GICH-VIEW-SYNTAX", f"not valid JSON: {exc}", offset=pos) from None
    d = _object(doc, "(top)", ("format", "vcpus", "distributor"))
    if d["format"] != FORMAT:
        raise _fail("format", f"{d['format']!r:.40} is not {FORMAT!r}")
    vcpus = d["vcpus"]
    if not isinstance(vcpus, list) or not 1 <= len(vcpus) <= MAX_VCPUS:
        raise _fail("vcpus", f"expected a list of 1..{MAX_VCPUS} vCPUs")
    regs = tuple(_vcpu(v, f"vcpus[{c}]") for c, v in enumerate(vcpus))
    return GichView(regs, _distributor(d["distributor"], base_dir))


# --- writing ---------------------------------------------------------------------------------
def _hex(value: int) -> str:
    return f'"{value:#010x}"'


def _vcpu_json(r: VcpuRegs) -> str:
    head = ", ".join(f'"{k}": {_hex(getattr(r, k))}' for k in ("vtr", "hcr", "vmcr", "apr"))
    lrs = ", ".join(_hex(v) for v in r.lr)
    status = ", ".join(f'"{k}": {_hex(getattr(r, k))}' for k in STATUS
                       if getattr(r, k) is not None)
    status = f",\n     {status}" if status else ""
    return f'    {{{head},\n     "lr": [{lrs}]{status}}}'


def to_json(view: GichView, *, distributor: str = "fixture") -> str:
    """The view as deterministic `gicmig.gich-view/1` JSON text.

    `distributor`: `fixture` embeds the image as a gicmig JSON fixture (readable, the
    default), `blob` as a base64 .gicmig blob (compact).
    """
    if distributor == "fixture":
        from gicmig.formats.fixture import to_json as fixture_json

        image = fixture_json(view.distributor).rstrip("\n").replace("\n", "\n  ")
    elif distributor == "blob":
        from gicmig.formats.codec import encode

        image = json.dumps({"blob_base64": base64.b64encode(encode(view.distributor)).decode()})
    else:
        raise GicmigError("USAGE", f"distributor encoding {distributor!r} is not fixture or blob")
    vcpus = ",\n".join(_vcpu_json(r) for r in view.vcpus)
    return (f'{{\n  "format": "{FORMAT}",\n  "vcpus": [\n{vcpus}\n  ],\n'
            f'  "distributor": {image}\n}}\n')


# --- JSON Schema -------------------------------------------------------------------------------
def json_schema() -> dict[str, Any]:
    """The JSON Schema of `gicmig.gich-view/1` (published as schemas/gich-view-1.schema.json)."""
    u32 = {"$ref": "#/$defs/u32"}
    vcpu = {
        "type": "object", "additionalProperties": False, "required": list(REQUIRED),
        "properties": {
            "vtr": u32, "hcr": u32, "vmcr": u32, "apr": u32,
            "lr": {"type": "array", "items": u32, "minItems": 1, "maxItems": MAX_LRS,
                   "description": "GICH_LR0..LRn, exactly GICH_VTR.ListRegs + 1 of them"},
            **{k: {**u32, "description": "optional: as the hypervisor read it; checked "
                   "against the value the list registers imply"} for k in STATUS},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gicmig.invalid/schemas/gich-view-1.schema.json",
        "title": "gicmig GICH view (gicmig.gich-view/1)",
        "description": "Per-vCPU GICv2 virtual interface control registers plus the "
                       "hypervisor's emulated-distributor image. See docs/gich.md.",
        "type": "object", "additionalProperties": False,
        "required": ["format", "vcpus", "distributor"],
        "properties": {
            "format": {"const": FORMAT},
            "vcpus": {"type": "array", "items": vcpu, "minItems": 1, "maxItems": MAX_VCPUS},
            "distributor": {"oneOf": [
                {"type": "object", "required": ["format"],
                 "properties": {"format": {"const": FIXTURE_FORMAT}},
                 "description": "an embedded gicmig JSON fixture "
                 "(schemas/fixture-1.schema.json)"},
                {"type": "object", "additionalProperties": False, "required": ["path"],
                 "properties": {"path": {"type": "string", "minLength": 1}},
                 "description": "a .gicmig blob or JSON fixture, relative to the view file"},
                {"type": "object", "additionalProperties": False, "required": ["blob_base64"],
                 "properties": {"blob_base64": {"type": "string"}},
                 "description": "a .gicmig blob, base64"},
            ]},
        },
        "$defs": {"u32": {"oneOf": [
            {"type": "integer", "minimum": 0, "maximum": 0xFFFF_FFFF},
            {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,8}$"},
        ]}},
    }
