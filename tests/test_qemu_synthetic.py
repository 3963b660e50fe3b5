"""Synthetic QEMU streams: every refusal code, every lenient normalization, truncation,
bit flips, a large RAM section in bounded memory, KVM encodings and the CLI."""

from __future__ import annotations

import io
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_qemu_support import GicImage, LazyStream, be32, stream, stream_parts

from gicmig.arch.registers import GICH_VMCR
from gicmig.core.imported import ImportedState
from gicmig.errors import REASONS, GicmigError
from gicmig.formats.codec import decode, encode
from gicmig.views.qemu.convert import QemuImportReport, import_qemu
from gicmig.views.qemu.stream import read_arm_gic
from gicmig.views.qemu.vmstate import ArmGicSection


def run(data: bytes, *, accel: str = "tcg", lenient: bool = False, **kw: object) -> ImportedState:
    kw.setdefault("machine", "virt")
    return import_qemu(io.BytesIO(data), accel=accel, lenient=lenient, **kw)  # type: ignore[arg-type]


def section_of(state: ImportedState) -> ArmGicSection:
    report = state.import_report
    assert isinstance(report, QemuImportReport) and report.section is not None
    return report.section


def refused(data: bytes, code: str, **kw: object) -> GicmigError:
    with pytest.raises(GicmigError) as info:
        run(data, **kw)
    assert info.value.code == code, str(info.value)
    assert code in REASONS
    return info.value


def base(**kw: object) -> GicImage:
    return GicImage(**kw)  # type: ignore[arg-type]


# --- the stream framing -------------------------------------------------------------------------
def test_a_clean_synthetic_stream_imports_by_every_route() -> None:
    gic = base().section()
    routes = {
        "vmdesc": stream(gic),
        "search": stream(gic, vmdesc=False),
        "framing": stream(gic, devices=False, vmdesc=False),
    }
    states = {}
    for how, data in routes.items():
        result = run(data)
        assert section_of(result).located_by == how
        states[how] = result
    assert states["vmdesc"] == states["search"] == states["framing"]


def test_not_a_stream() -> None:
    refused(b"", "QEMU-NOT-A-STREAM")
    refused(b"GICMIG\x00\x01" + bytes(64), "QEMU-NOT-A-STREAM")


def test_unsupported_stream_version() -> None:
    refused(stream(base().section(), version=2), "QEMU-STREAM-VERSION")


def test_no_arm_gic_section() -> None:
    err = refused(stream(b"", gic_after=True), "QEMU-NO-ARM-GIC")
    assert err.offset is not None
    refused(stream(b"", gic_after=True, vmdesc=False), "QEMU-NO-ARM-GIC")


def test_arm_gic_version_other_than_12() -> None:
    refused(stream(base().section(version=11)), "QEMU-GIC-VERSION")
    refused(stream(base().section(virt_version=2)), "QEMU-GIC-VERSION")


def test_footer_mismatch() -> None:
    refused(stream(base().section(footer=b"\x7e" + be32(11))), "QEMU-FOOTER-MISMATCH")
    refused(stream(base().section(footer=b"\x04")), "QEMU-FOOTER-MISMATCH")
    refused(stream(base().section(footer=b"\x7e" + be32(11)), vmdesc=False),
            "QEMU-FOOTER-MISMATCH")


def test_arm_gic_as_an_iterative_section_is_broken_framing() -> None:
    refused(stream(base().section(kind=1), devices=False), "QEMU-FRAMING")


def test_truncated_section() -> None:
    data = stream(base().section(), devices=False, vmdesc=False)
    err = refused(data[:-100], "QEMU-TRUNCATED")
    assert "arm_gic" in str(err)


def test_configuration_with_an_absurd_machine_name_is_refused_without_allocating() -> None:
    data = bytearray(stream(base().section()))
    data[9:13] = be32(0x7FFF_FFFF)
    refused(bytes(data), "QEMU-FRAMING")


def test_truncation_at_many_offsets_gives_only_gicmig_errors() -> None:
    data = stream(base().section())
    gic_at = data.index(b"\x07arm_gic") - 5
    gic_end = gic_at + len(base().section())
    for cut in [*range(0, gic_at, 997), *range(gic_at, gic_end, 61), gic_end - 1]:
        with pytest.raises(GicmigError) as info:
            run(data[:cut])
        assert info.value.code in ("QEMU-TRUNCATED", "QEMU-NO-ARM-GIC", "QEMU-NOT-A-STREAM"), \
            (cut, str(info.value))
    # what follows the section is not needed: a stream cut after it still imports
    assert section_of(run(data[:gic_end])).located_by


CLEAN = stream(base().section(), zero_pages=8, data_pages=1)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(CLEAN) - 1), st.integers(1, 255)),
                min_size=1, max_size=4))
def test_bit_flips_give_a_state_or_a_gicmig_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(CLEAN)
    for at, mask in flips:
        data[at] ^= mask
    for accel in ("tcg", "kvm"):
        try:
            run(bytes(data), accel=accel, lenient=True)
        except GicmigError as exc:
            assert exc.code in REASONS


GIC_AT = CLEAN.index(b"\x07arm_gic") - 5


@settings(max_examples=200, deadline=None)
@given(st.integers(GIC_AT, GIC_AT + 12177), st.integers(0, 7))
def test_single_bit_flips_in_the_section(at: int, bit: int) -> None:
    data = bytearray(CLEAN)
    data[at] ^= 1 << bit
    try:
        run(bytes(data))
    except GicmigError as exc:
        assert exc.code in REASONS


# --- a large RAM section in bounded memory ------------------------------------------------------
def test_large_ram_section_streams_in_bounded_memory() -> None:
    pages = 200 * 256  # 200 MiB of 4 KiB data pages, generated lazily
    gic = base().section()
    source = io.BufferedReader(LazyStream(stream_parts(gic, zero_pages=4096, data_pages=pages,
                                                       devices=False)))
    tracemalloc.start()
    try:
        result = import_qemu(source, accel="tcg", machine="virt")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert section_of(result).located_by == "framing"
    assert section_of(result).offset > 200 << 20
    assert peak < 8 << 20, f"peak {peak} bytes for a {section_of(result).offset}-byte stream"


def test_large_ram_on_a_seekable_file(tmp_path: Path) -> None:
    path = tmp_path / "big.mig"
    with path.open("wb") as f:
        for part in stream_parts(base().section(), zero_pages=20000, data_pages=2000):
            f.write(part)
    section = read_arm_gic(path)
    assert section.located_by == "vmdesc" and section.offset > 2000 * 4096


# --- parameters --------------------------------------------------------------------------------
def test_accelerator_is_required_and_checked() -> None:
    with pytest.raises(GicmigError) as info:
        import_qemu(io.BytesIO(stream(base().section())), accel="xen")
    assert info.value.code == "QEMU-ACCEL" and info.value.category == "usage"


def test_machine_presets() -> None:
    data = stream(base().section())
    refused(data, "QEMU-MACHINE-UNKNOWN", machine="sbsa-ref")
    refused(stream(base().section(), machine="vexpress-a15"), "QEMU-MACHINE-MISMATCH")
    # a stream that names the virt board gets its 288 IDs; another board needs --num-irqs
    assert run(data, machine=None).config.num_irqs == 288
    refused(stream(base().section(), machine="vexpress-a15"), "QEMU-PARAMETER-MISSING",
            machine=None)
    refused(data, "QEMU-PARAMETER-MISSING", machine=None, num_irqs=300)
    assert run(data, machine=None, num_irqs=64).config.num_irqs == 64


def test_num_cpus_from_the_slots_or_refused() -> None:
    for n in (1, 2, 4, 8):
        assert run(stream(GicImage(n).section())).config.num_cpus == n
    gap = GicImage(2).set("abpr", 3, 1)
    refused(stream(gap.section()), "QEMU-NUM-CPUS-AMBIGUOUS")
    refused(stream(gap.section()), "QEMU-NUM-CPUS-MISMATCH", num_cpus=4)
    refused(stream(base().section()), "QEMU-NUM-CPUS-MISMATCH", num_cpus=1)
    refused(stream(base().section()), "QEMU-NUM-CPUS-MISMATCH", num_cpus=3)
    refused(stream(base().section()), "QEMU-NUM-CPUS-MISMATCH", num_cpus=9)


def test_state_beyond_num_irqs() -> None:
    refused(stream(base().irq(300, enabled=0xFF).section()), "QEMU-IRQ-BEYOND-NUM-IRQS")
    pri2 = GicImage().set("priority2", 290 - 32, 0x80)
    refused(stream(pri2.section()), "QEMU-IRQ-BEYOND-NUM-IRQS")


@pytest.mark.parametrize("patch", [
    lambda g: g.irq(40, model=1),
    lambda g: g.irq(40, edge=2),
    lambda g: g.irq(40, enabled=0x03),
    lambda g: g.irq(40, group=0x01),
    lambda g: g.irq(40, level=0x02),
    lambda g: g.irq(3, level=0x01),
    lambda g: g.set("ctlr", 0, 4),
    lambda g: g.set("sgi_pending", 5 * 8 + 0, 0x02),  # sources without the pending bit
    lambda g: g.lr(0, 9, 0x1000_0020),
    lambda g: g.vset("priority_mask", 0, 0x81),
])
def test_values_qemu_never_writes(patch: Callable[[GicImage], object]) -> None:
    img = base()
    patch(img)
    refused(stream(img.section()), "QEMU-VALUE-IMPOSSIBLE")
    refused(stream(img.section()), "QEMU-VALUE-IMPOSSIBLE", lenient=True)


# --- deviations: strict refuses, lenient normalizes (or refuses what is not benign) --------------
def _both(img: GicImage, code: str) -> ImportedState:
    err = refused(stream(img.section()), code)
    assert "--lenient" in str(err)
    result = run(stream(img.section()), lenient=True)
    normalized = result.import_report.normalized
    assert [v.code for v in normalized] == [code], normalized
    return result


def test_spi_pending_on_some_targets_only() -> None:
    img = base().irq(40, pending=0x02, enabled=0xFF)
    img.main[7176 + 40] = 0x03
    st_ = _both(img, "QEMU-SPI-PENDING-PARTIAL")
    assert st_.irq(40).pending_latch and st_.irq(40).targets == 3


def test_spi_target_for_absent_cpu() -> None:
    img = base()
    img.main[7176 + 41] = 0x05
    assert _both(img, "QEMU-SPI-TARGET-ABSENT-CPU").irq(41).targets == 1


@pytest.mark.parametrize("mask, code", [(0xFE, "QEMU-SPI-ACTIVE-PARTIAL"),
                                        (0x03, "QEMU-SPI-ACTIVE-CPU-SET"),
                                        (0x04, "QEMU-SPI-ACTIVE-CPU-SET")])
def test_spi_active_masks_that_are_not_benign(mask: int, code: str) -> None:
    img = base().irq(64, active=mask)
    refused(stream(img.section()), code)
    refused(stream(img.section()), code, lenient=True)


def test_spi_active_cpu_rule() -> None:
    img = base().irq(64, active=0xFF).irq(65, active=0x02)
    state = run(stream(img.section()))
    assert state.irq(64).active_cpu is None and state.irq(65).active_cpu == 1
    assert state.shared.active_cpu[32:34] == b"\xff\x01"


def test_sgi_source_of_an_absent_cpu() -> None:
    img = base().irq(3, pending=0x01).set("sgi_pending", 3 * 8 + 0, 0x05)
    assert _both(img, "QEMU-SGI-SOURCE-ABSENT-CPU").irq(3, 0).sgi_sources == 1


def test_sgi_pending_without_a_source() -> None:
    img = base().irq(2, pending=0x01)
    assert not _both(img, "QEMU-SGI-PENDING-NO-SOURCE").irq(2, 0).pending


def test_sgi_pending_on_an_absent_cpu() -> None:
    img = base().irq(4, pending=0x04).set("sgi_pending", 4 * 8 + 2, 0x01)
    state = _both(img, "QEMU-SGI-PENDING-ABSENT-CPU")
    assert not state.irq(4, 0).pending and not state.irq(4, 1).pending


def test_ppi_pending_on_absent_cpus_and_written_private_targets() -> None:
    img = base().irq(20, pending=0xFF)
    refused(stream(img.section()), "QEMU-PPI-PENDING-ABSENT-CPU")
    result = run(stream(img.section()), lenient=True)
    assert [v.code for v in result.import_report.normalized] == ["QEMU-PPI-PENDING-ABSENT-CPU"]
    assert result.irq(20, 0).pending_latch and result.irq(20, 1).pending_latch
    img.main[7176 + 20] = 0xFF
    result = run(stream(img.section()), lenient=True)
    assert sorted(v.code for v in result.import_report.normalized) == [
        "QEMU-PPI-PENDING-ABSENT-CPU", "QEMU-PPI-TARGETS-WRITTEN"]


def test_private_targets_written() -> None:
    img = base()
    img.main[7176 + 5] = 0xFF
    _both(img, "QEMU-PPI-TARGETS-WRITTEN")


def test_lr4_written() -> None:
    img = base().lr(1, 4, 0x1000_002A)
    state = _both(img, "QEMU-LR4-WRITTEN")
    assert state.virtual[1].lr == (0, 0, 0, 0)


def test_lr_reserved_bits_kept_by_qemu() -> None:
    lr = 0x1000_002A | (0x3F << 13)
    img = base().lr(0, 1, lr).vset("h_hcr", 0, 0)
    state = _both(img, "QEMU-LR-RESERVED-BITS")
    assert state.virtual[0].lr[1] == 0x1000_002A


def test_vcpu_abpr_below_three() -> None:
    img = base().vset("abpr", 1, 1)
    state = _both(img, "QEMU-VCPU-ABPR-BELOW-MIN")
    assert GICH_VMCR.field("vmabp").get(state.virtual[1].vmcr) == 3


def test_cache_mismatches() -> None:
    _both(base().set("running_priority", 0, 0x40), "QEMU-CACHE-MISMATCH")
    _both(base().vset("running_priority", 1, 0x40), "QEMU-CACHE-MISMATCH")
    _both(base().vset("h_misr", 0, 1), "QEMU-CACHE-MISMATCH")
    img = base().lr(0, 0, 0x1000_002D).vset("h_hcr", 0, 1).vset("cpu_ctlr", 0, 1)
    img.vset("priority_mask", 0, 0xF8)
    _both(img, "QEMU-CACHE-MISMATCH")  # vCPU current_pending should be 45
    img.vset("current_pending", 0, 45)
    assert run(stream(img.section())).import_report.normalized == ()


def _pending_spi(img: GicImage, irq: int, prio: int) -> GicImage:
    img.irq(irq, enabled=0xFF, pending=0x01).set("priority2", irq - 32, prio)
    img.main[7176 + irq] = 0x01
    return img


def test_current_pending_staleness_only_where_deviation_19_allows_it() -> None:
    def image(virt: bool, stored: int) -> GicImage:
        img = GicImage(virt=virt).set("ctlr", 0, 1).set("cpu_ctlr", 0, 1)
        img.set("priority_mask", 0, 0xF0)
        _pending_spi(img, 40, 0x10)
        _pending_spi(img, 41, 0x20)
        return img.set("current_pending", 0, stored)

    assert run(stream(image(False, 40).section())).import_report.normalized == ()
    refused(stream(image(False, 41).section()), "QEMU-CACHE-MISMATCH")
    # with virtualization extensions, SPI 40 may just have been deactivated through a
    # HW=1 list register without QEMU recomputing the cache: 41 and 1023 are accepted
    assert run(stream(image(True, 41).section())).import_report.normalized == ()
    assert run(stream(image(True, 1023).section())).import_report.normalized == ()
    refused(stream(image(True, 42).section()), "QEMU-CACHE-MISMATCH")


# --- the kvm-arm-gic encoding -------------------------------------------------------------------
def kvm_image() -> GicImage:
    img = GicImage.kvm()
    img.set("ctlr", 0, 1).set("priority_mask", 0, 0x1E).set("apr", 0, 1 << 4)
    img.irq(40, enabled=0xFF, pending=0xFF, active=0xFF)  # level-triggered SPI
    img.irq(41, enabled=0xFF, pending=0xFF, edge=1)
    img.irq(27, enabled=0x03, pending=0x02)  # level PPI pending on CPU1
    img.irq(1, active=0x01)
    return img


def test_kvm_encodings() -> None:
    state = run(stream(kvm_image().section()), accel="kvm")
    cfg = state.config
    assert (cfg.priority_bits, cfg.min_bpr, cfg.sgi_enables_rao_wi) == (5, 2, False)
    assert state.provenance.source == "qemu-kvm"
    assert state.enable_grp0 and not state.enable_grp1 and state.enable_grp1_unknown
    assert state.cpu[0].pmr == 0xF0
    assert state.cpu[0].active_group_unknown == 1 << 16 and state.cpu[0].active_group0 == 0
    spi40, spi41 = state.irq(40), state.irq(41)
    assert spi40.pending_latch and spi40.pending_split_unknown and spi40.active_cpu is None
    assert spi41.pending_latch and not spi41.pending_split_unknown
    ppi = state.irq(27, 1)
    assert ppi.pending_split_unknown and ppi.pending_latch and not state.irq(27, 0).pending
    assert state.irq(1, 0).active and state.irq(1, 0).sgi_active_source is None


@pytest.mark.parametrize("patch", [
    lambda g: g.set("priority_mask", 1, 0xF0),
    lambda g: g.set("apr", 8, 1),
    lambda g: g.set("nsapr", 0, 1),
    lambda g: g.irq(50, pending=0x01),
    lambda g: g.irq(27, level=0x01),
    lambda g: g.set("ctlr", 0, 3),
])
def test_kvm_refuses_what_kvm_arm_gic_never_writes(patch: Callable[[GicImage], object]) -> None:
    img = kvm_image()
    patch(img)
    refused(stream(img.section()), "QEMU-ACCEL-MISMATCH", accel="kvm")


def test_kvm_refuses_the_virtualization_subsection() -> None:
    refused(stream(base().section()), "QEMU-ACCEL-MISMATCH", accel="kvm")


# --- the command line ---------------------------------------------------------------------------
def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gicmig", *args], input=stdin,
                          capture_output=True, timeout=60, check=False)


def test_cli_import_lenient_report_and_output(tmp_path: Path) -> None:
    img = base().irq(2, pending=0x01)
    src = tmp_path / "in.mig"
    src.write_bytes(stream(img.section()))
    out = tmp_path / "out.gicmig"
    strict = cli("import", "qemu", str(src), "-o", str(out), "--accel", "tcg",
                 "--machine", "virt")
    assert strict.returncode == 1 and b"QEMU-SGI-PENDING-NO-SOURCE" in strict.stderr
    assert not out.exists() and b"Traceback" not in strict.stderr
    ok = cli("import", "qemu", "-", "-o", str(out), "--accel", "tcg", "--machine", "virt",
             "--lenient", stdin=src.read_bytes())
    assert ok.returncode == 0, ok.stderr
    assert b"normalized QEMU-SGI-PENDING-NO-SOURCE" in ok.stderr
    assert decode(out.read_bytes()).provenance.source == "qemu-tcg"


def test_cli_usage_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.mig"
    src.write_bytes(stream(base().section(), machine="vexpress-a15"))
    no_accel = cli("import", "qemu", str(src), "-o", str(tmp_path / "x.gicmig"), "--num-irqs",
                   "288")
    assert no_accel.returncode == 0 and b"imported qemu-tcg state" in no_accel.stdout
    bad_accel = cli("import", "qemu", str(src), "-o", str(tmp_path / "x.gicmig"), "--accel", "xen")
    assert bad_accel.returncode == 2 and b"--accel" in bad_accel.stderr
    no_irqs = cli("import", "qemu", str(src), "-o", str(tmp_path / "x.gicmig"), "--accel", "tcg")
    assert no_irqs.returncode == 2 and b"QEMU-PARAMETER-MISSING" in no_irqs.stderr
    same = cli("import", "qemu", str(src), "-o", str(src), "--accel", "tcg", "--num-irqs", "64")
    assert same.returncode == 2 and src.read_bytes()[:4] == b"QEVM"
    bad = cli("import", "qemu", str(tmp_path / "missing.mig"), "-o", "x", "--accel", "tcg",
              "--machine", "virt", "--format", "json")
    assert bad.returncode == 2 and b'"IO-READ"' in bad.stdout


# --- more framing ------------------------------------------------------------------------------
def _with_records(records: bytes, **kw: object) -> bytes:
    """A stream whose device area starts with `records` (after the RAM sections)."""
    data = stream(base().section(), devices=False, vmdesc=False, **kw)  # type: ignore[arg-type]
    at = data.index(b"\x07arm_gic") - 5
    return data[:at] + records + data[at:]


def test_command_records_are_skipped_by_their_length() -> None:
    command = b"\x08" + b"\x00\x01" + b"\x00\x04" + b"ping"
    assert section_of(run(_with_records(command))).located_by == "framing"


def test_unknown_record_type_falls_back_to_the_search() -> None:
    result = run(_with_records(b"\x09garbage"))
    assert section_of(result).located_by == "search"
    assert "0x09" in (section_of(result).search_reason or "")


def test_unknown_iterative_section_falls_back_to_the_search() -> None:
    block = b"\x01" + be32(7) + b"\x05block" + be32(0) + be32(1) + b"opaque" + b"\x7e" + be32(7)
    result = run(_with_records(block))
    assert section_of(result).located_by == "search"


def test_compressed_and_xbzrle_ram_records() -> None:
    page = 0x1000
    part = (b"\x02" + be32(2)
            + (page | 0x100).to_bytes(8, "big") + b"\x0dmach-virt.ram" + be32(5) + b"zzzzz"
            + (2 * page | 0x60).to_bytes(8, "big") + b"\x01" + b"\x00\x03" + b"xyz"
            + (0x10).to_bytes(8, "big") + b"\x7e" + be32(2))
    assert section_of(run(_with_records(part))).located_by == "framing"


def test_malformed_vmdesc_falls_back_to_the_search() -> None:
    data = stream(base().section())
    at = data.rindex(b"\x00\x06")
    doc = b'{"page_size": 4096, "devices": 7}'
    broken = data[:at] + b"\x00\x06" + be32(len(doc)) + doc
    result = run(broken)
    assert section_of(result).located_by == "search"


def test_reading_starts_at_the_file_objects_position() -> None:
    data = b"prefix" + stream(base().section())
    f = io.BytesIO(data)
    f.seek(6)
    result = import_qemu(f, accel="tcg", machine="virt")
    assert section_of(result).located_by == "vmdesc"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_after_the_header_give_only_gicmig_errors(tail: bytes) -> None:
    for prefix in (b"QEVM\x00\x00\x00\x03", b"QEVM\x00\x00\x00\x03\x07\x00\x00\x00\x01v"):
        try:
            run(prefix + tail)
        except GicmigError as exc:
            assert exc.code in REASONS


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9887), st.integers(0, 255)), max_size=48),
       st.booleans())
def test_arbitrary_section_contents_give_a_valid_state_or_a_gicmig_error(
        patches: list[tuple[int, int]], lenient: bool) -> None:
    img = GicImage(virt=False)
    for at, value in patches:
        img.main[at] = value
    for accel in ("tcg", "kvm"):
        try:
            result = run(stream(img.section()), accel=accel, lenient=lenient, num_cpus=2)
        except GicmigError as exc:
            assert exc.code in REASONS
        else:
            assert decode(encode(result)) == result
