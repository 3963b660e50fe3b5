"""`gicmig diff` and `gicmig fixture update`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.core.model import GicState

DIFF_EPILOG = """inputs (detected by content): a .gicmig blob of any schema revision, a JSON
  fixture, a KVM dump, a GICH view; - for stdin. A QEMU migration stream needs its
  device: qemu:tcg:PATH or qemu:kvm:PATH. Import options: VIEW,KEY=VALUE:PATH, e.g.
  kvm,num_cpus=2:dump.json, qemu:kvm,num_irqs=288:vm.mig (docs/diff.md)

examples:
  gicmig diff fixtures/v1/busy.json after.gicmig
  gicmig diff --registers --ignore 'provenance.*' before.gicmig after.gicmig
  gicmig diff --format json a.json b.json | jq '.[].path'
  gicmig diff -q expected.json actual.gicmig && echo same

output: one change per line, `PATH: OLD -> NEW`, in a fixed order (config, distributor,
  SPIs by ID, per CPU: banked IRQs, GICC, GICH; hypervisor context; provenance)
exit codes: 0 same, 1 different, 2 trouble (unreadable or invalid input, usage)"""

UPDATE_EPILOG = """examples:
  gicmig fixture update tests/fixtures/*.json          # rewrite in canonical form
  gicmig fixture update --check tests/fixtures/*.json  # CI: exit 1 if any would change
  gicmig fixture update tests/fixtures/boot.json --from new-capture.gicmig

exit codes: 0 ok (or nothing to change with --check), 1 would change (--check) or invalid
  input, 2 usage or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("diff", "show what changed between two GIC states, in GIC terms", DIFF_EPILOG)
    p.add_argument("old", metavar="A", help="the state before (blob, JSON fixture, VIEW:PATH, -)")
    p.add_argument("new", metavar="B", help="the state after")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: a list of {path, old, new} (and register with --registers)")
    p.add_argument("--ignore", action="append", default=[], metavar="PATTERN",
                   help="leave out changes whose path matches this fnmatch glob "
                        "(repeatable), e.g. 'provenance.*' or 'cpu? gicc.pmr'")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print no changes; the exit status says same (0) or different (1)")
    p.add_argument("--registers", action="store_true",
                   help="show the register and bits that hold each change, where one does")
    p.set_defaults(run=_diff)

    p = sub.add("update", "rewrite fixtures in canonical form, or with the state of an input",
                UPDATE_EPILOG, group="fixture")
    p.add_argument("fixtures", nargs="+", metavar="FIXTURE",
                   help="JSON fixture or .gicmig blob (the extension picks the format)")
    p.add_argument("--from", dest="source", metavar="INPUT",
                   help="write INPUT's state into FIXTURE (one FIXTURE; it may not exist yet)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a fixture would change")
    p.set_defaults(run=_update)


# --- inputs -----------------------------------------------------------------------------------
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
    from gicmig.formats.io import read_bytes

    return source if isinstance(source, bytes) else read_bytes(source)


def _load_kvm(source: bytes | str, opts: Options, path: str) -> GicState:
    from gicmig.views.kvm.convert import import_kvm
    from gicmig.views.kvm.dump import parse_dump

    options = _int_options(opts, ("num_cpus", "priority_bits"))
    return import_kvm(parse_dump(_bytes(source)), **options)


def _load_qemu(accel: str) -> Loader:
    def load_qemu(source: bytes | str, opts: Options, path: str) -> GicState:
        import io
        import sys

        from gicmig.views.qemu.convert import convert
        from gicmig.views.qemu.stream import read_arm_gic

        machine = opts.pop("machine", None)
        lenient = _flag(opts, "lenient")
        nums = _int_options(opts, ("num_cpus", "num_irqs", "priority_bits"))
        # a stream holds the VM's RAM: read it streaming, never whole
        stream: Any = (io.BytesIO(source) if isinstance(source, bytes)
                       else sys.stdin.buffer if source == "-" else source)
        section = read_arm_gic(stream)
        board = section.machine or ""
        if machine is None and "num_irqs" not in nums and board.startswith("virt"):
            machine = "virt"  # the stream names its board, and the board fixes the IDs
        return convert(section, accel=accel, machine=machine, lenient=lenient, **nums).state
    return load_qemu


def _load_gich(source: bytes | str, opts: Options, path: str) -> GicState:
    import os

    from gicmig.views.gich.convert import import_gich
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


def load_input(spec: str) -> GicState:
    """A state from a view spec, else a blob, JSON fixture or KVM dump by content (or `-`)."""
    import re

    from gicmig.errors import GicmigError
    from gicmig.formats.io import QEMU_MAGIC, load, read_bytes

    parsed = _parse_spec(spec)
    if parsed is not None:
        name, opts, path = parsed
        return VIEW_LOADERS[name](path, opts, path)
    data = read_bytes(spec)
    if data.startswith(QEMU_MAGIC):
        raise GicmigError("USAGE", "a QEMU migration stream does not say which device wrote "
                                   f"it: give qemu:tcg:{spec} or qemu:kvm:{spec}")
    view = re.match(rb'\s*{\s*"format"\s*:\s*"gicmig\.(kvm-dump|gich-view)/', data[:4096])
    if view:
        loader = _load_kvm if view.group(1) == b"kvm-dump" else _load_gich
        return loader(data, {}, spec)
    return load(data)


# --- diff ---------------------------------------------------------------------------------------
def _diff(args: argparse.Namespace) -> int:
    from gicmig.cli._run import report_error
    from gicmig.diff.semantic import diff
    from gicmig.errors import GicmigError

    try:
        if args.old == "-" and args.new == "-":
            raise GicmigError("USAGE", "only one of A and B can be stdin (-)")
        args.current_path = args.old
        a = load_input(args.old)
        args.current_path = args.new
        b = load_input(args.new)
        changes = diff(a, b, ignore=args.ignore)
    except GicmigError as exc:  # like diff(1): any trouble is 2, never "different"
        report_error(getattr(args, "current_path", None) or "gicmig", exc, args.format)
        return 2
    if not args.quiet:
        _print_changes(changes, args.format, args.registers)
    return 1 if changes else 0


def _print_changes(changes: list[Any], fmt: str, registers: bool) -> None:
    if fmt == "json":
        print(json.dumps([c.as_dict(registers) for c in changes], indent=2))
        return
    out = sys.stdout
    out.writelines(c.render(registers) + "\n" for c in changes)


# --- fixture update -----------------------------------------------------------------------------
def _update(args: argparse.Namespace) -> int:
    from gicmig.errors import GicmigError

    if args.source is not None and len(args.fixtures) != 1:
        raise GicmigError("USAGE", "--from writes one fixture: give exactly one FIXTURE")
    status = 0
    for path in args.fixtures:
        args.current_path = path
        status = max(status, _update_one(args, path))
    return status


def _update_one(args: argparse.Namespace, path: str) -> int:
    from gicmig.diff.semantic import diff
    from gicmig.formats.io import format_for, load, read_bytes, render, write_atomic

    current: GicState | None
    if args.source is None:
        state = current = load(path)
        why = ""
    else:
        args.current_path = args.source
        state = load_input(args.source)
        args.current_path = path
        current, why = _current(path)
    text = render(state, format_for(path))
    if current is not None and read_bytes(path) == text:
        print(f"{path}: unchanged")
        return 0
    changes = diff(current, state) if current is not None else []
    if current is not None:
        n = len(changes)
        why = f"{n} change{'s' * (n != 1)}" if changes else "format only"
    if args.check:
        print(f"{path}: would be rewritten ({why})")
        return 1
    write_atomic(path, text)
    print(f"{path}: rewritten ({why})")
    for c in changes:
        print(f"  {c.render()}")
    return 0


def _current(path: str) -> tuple[GicState | None, str]:
    """The fixture's state, or None and why there is none (a new or unreadable file)."""
    import os

    from gicmig.errors import GicmigError
    from gicmig.formats.io import load

    if not os.path.exists(path):
        return None, "new file"
    try:
        return load(path), ""
    except GicmigError as exc:
        return None, f"replacing an unreadable fixture: {exc.code}"
