"""Any input gicmig reads, as a state: `VIEW[,KEY=VALUE...]:PATH` specs, or by content.

A blob or JSON fixture, a KVM register dump, a GICH view or a QEMU stream is recognized by
its content (for a QEMU stream, the section's marks name the device that wrote it;
`qemu:tcg:PATH` or `qemu:kvm:PATH` says it where they do not). Every command that takes
"a state in any format" (`diff`, `fixture update --from`, ...) reads it here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gicmig.core.model import GicState

# `VIEW[,KEY=VALUE...]:PATH` input specs, one loader per outside view that has an importer
# (docs/diff.md); a new view joins by adding a loader here. A loader gets the input's bytes,
# the spec's options (it refuses those it does not know) and the input's path.
Options = dict[str, str]
Loader = Callable[[bytes | str, Options, str], "GicState"]  # (bytes or a path, options, name)


def _int_options(opts: Options, known: tuple[str, ...]) -> dict[str, int]:
    from gicmig.errors import GicmigError

    out = {}
    for key, value in opts.items():
        if key not in known:
            raise GicmigError("USAGE", f"unknown view option {key!r} (known: {', '.join(known)})")
        if not (value.isascii() and value.isdigit()):
            raise GicmigError("USAGE", f"view option {key}={value!r} is not a number")
        out[key] = int(value)
    return out


def _bytes(source: bytes | str) -> bytes:
    from gicmig.files import read_bytes

    return source if isinstance(source, bytes) else read_bytes(source)


def _load_kvm(source: bytes | str, opts: Options, path: str) -> GicState:
    from gicmig.views.kvm.dump import parse_dump
    from gicmig.views.kvm.reader import import_kvm

    options = _int_options(opts, ("num_cpus", "priority_bits"))
    return import_kvm(parse_dump(_bytes(source)), **options)


def _load_qemu(accel: str | None) -> Loader:
    def load_qemu(source: bytes | str, opts: Options, path: str) -> GicState:
        from gicmig.views.qemu.convert import import_qemu

        machine = opts.pop("machine", None)
        lenient = _flag(opts, "lenient")
        nums = _int_options(opts, ("num_cpus", "num_irqs", "priority_bits"))
        # a stream holds the VM's RAM: import_qemu reads it streaming, never whole
        return import_qemu(source, accel=accel, machine=machine, lenient=lenient, **nums)
    return load_qemu


def _load_gich(source: bytes | str, opts: Options, path: str) -> GicState:
    import os

    from gicmig.views.gich.merge import import_gich
    from gicmig.views.gich.viewfile import parse_view

    lenient, keep = _flag(opts, "lenient"), _flag(opts, "keep_hypervisor_context")
    _int_options(opts, ())
    base = os.path.dirname(os.path.abspath(path)) if path != "-" else None
    return import_gich(parse_view(_bytes(source), base_dir=base), lenient=lenient,
                       keep_hypervisor_context=keep)


def _flag(opts: Options, name: str) -> bool:
    from gicmig.errors import GicmigError

    value = opts.pop(name, "0")
    if value not in ("0", "1"):
        raise GicmigError("USAGE", f"view option {name}={value!r}: use {name}=1 or {name}=0")
    return value == "1"


VIEW_LOADERS: dict[str, Loader] = {
    "gich": _load_gich,
    "kvm": _load_kvm,
    "qemu-tcg": _load_qemu("tcg"),
    "qemu-kvm": _load_qemu("kvm"),
}


def _parse_spec(spec: str) -> tuple[str, Options, str] | None:
    """(view, options, path) of `VIEW[,K=V...]:PATH` or `qemu:ACCEL[,K=V...]:PATH`."""
    head, sep, path = spec.partition(":")
    if not sep:
        return None
    name, *opts = head.split(",")
    if name == "qemu":
        head, sep, path = path.partition(":")
        accel, *more = head.split(",")
        name, opts = f"qemu-{accel}", [*opts, *more]
    if name not in VIEW_LOADERS or not sep:
        return None
    return name, dict(o.partition("=")[::2] for o in opts if o), path


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False  # read_bytes reports it


def load_input(spec: str) -> GicState:
    """A state from a view spec, else a blob, JSON fixture or KVM dump by content (or `-`)."""
    import re

    from gicmig.files import read_bytes
    from gicmig.formats.io import QEMU_MAGIC, load

    parsed = _parse_spec(spec)
    if parsed is not None:
        name, opts, path = parsed
        return VIEW_LOADERS[name](path, opts, path)
    if spec != "-" and _starts_with(spec, QEMU_MAGIC):  # a stream holds RAM: stream it
        return _load_qemu(None)(spec, {}, spec)
    data = read_bytes(spec)
    if data.startswith(QEMU_MAGIC):
        return _load_qemu(None)(data, {}, spec)
    # a view's document names its format first (the views own the names); with a BOM too:
    # the reader refuses it in its own words
    view = re.match(rb'(?:\xef\xbb\xbf)?\s*{\s*"format"\s*:\s*"(gicmig\.[a-z-]+/)', data[:4096])
    loader = _views_by_format().get(view.group(1).decode()) if view else None
    return loader(data, {}, spec) if loader else load(data)


def _views_by_format() -> dict[str, Loader]:
    """The loader of each view document, by its format name up to the version."""
    from gicmig.views.gich.viewfile import FORMAT as GICH_VIEW
    from gicmig.views.kvm.dump import FORMAT as KVM_DUMP

    return {name.partition("/")[0] + "/": loader
            for name, loader in ((KVM_DUMP, _load_kvm), (GICH_VIEW, _load_gich))}
