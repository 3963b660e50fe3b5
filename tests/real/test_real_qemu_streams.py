"""Real QEMU 7.2 on real streams, without gicmig's writer.

* Every shared stream (../shared/qemu/streams) loads into `qemu-system-aarch64
  -incoming`, migrates out again, and the re-migrated stream imports (strict) to the same
  canonical state; its arm_gic section is byte-identical.
* The read-back guest (harness/qemu/guest), left at reset or after programming the GIC
  from both CPUs, is migrated to a file; loaded and resumed (`cont`) on a destination,
  it reads back exactly the registers gicmig.views.qemu.registers predicts from the
  state that file imports to, before and after it made QEMU recompute its caches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realqemu import (  # first: it puts the repository root (harness/) on sys.path
    SHARED,
    STREAMS,
    assert_readback,
    import_tcg,
    require_qemu,
    shared_machine,
)

from gicmig.arch.registers import (
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_BPR,
    GICC_CTLR,
    GICC_NO_STATE,
    GICC_PMR,
    GICD_CTLR,
    GICD_SGIR,
    GICH_APR,
    GICH_HCR,
    GICH_LR,
    GICH_LR_HW,
    GICH_VMCR,
    SGI_BANKS,
)
from gicmig.views.qemu.stream import read_arm_gic
from harness.qemu import driver
from harness.qemu.driver import Write

pytestmark = pytest.mark.realqemu


@pytest.fixture(scope="module", autouse=True)
def _real_qemu() -> None:
    require_qemu()  # skips, or fails under CI=true, without QEMU or the cross compiler

GICD, GICC, GICH = 0x0800_0000, 0x0801_0000, 0x0803_0000  # the virt board's frames
_BANK = {b.name.removeprefix("GICD_"): b.offset for b in (*DIST_BANKS, *SGI_BANKS)}


@pytest.mark.parametrize("name", STREAMS)
def test_shared_stream_loads_and_remigrates(name: str, tmp_path: Path) -> None:
    src = SHARED / "streams" / f"{name}.mig"
    out = tmp_path / f"{name}.again.mig"
    driver.remigrate(src, out, shared_machine())
    assert read_arm_gic(out).main == read_arm_gic(src).main  # QEMU wrote the same section
    assert read_arm_gic(out).virt == read_arm_gic(src).virt
    assert import_tcg(out) == import_tcg(src)


def _dist(bank: str, index: int) -> int:
    return GICD + _BANK[bank] + 4 * index


def programmed() -> list[Write]:
    """GIC state written by the guest from both CPUs: SPIs with distinct priorities,
    targets, triggers, groups, enables, pending and active states; banked SGI/PPI state
    per CPU; SGIs from SGIR and SPENDSGIR; both CPU interfaces with active priorities;
    both virtual interfaces with list registers (both assert the maintenance
    interrupt). Avoids QEMU's deviations, so that the strict import accepts it."""
    w = [Write(0, GICD + GICD_CTLR.offset, GICD_CTLR.pack(enable_grp0=1, enable_grp1=1))]
    # SPIs 48-51 (IPRIORITYR12 / ITARGETSR12), 100, 200
    w += [Write(0, _dist("IPRIORITYR", 12), 0x4030_2010),
          Write(0, _dist("ITARGETSR", 12), 0x0201_0302),
          Write(0, _dist("IPRIORITYR", 25), 0x88, 8),
          Write(0, _dist("ITARGETSR", 25), 0x01, 8),
          Write(0, _dist("ITARGETSR", 50), 0x02, 8),
          Write(0, _dist("ICFGR", 3), 0b10 << 2),  # irq 49 edge
          Write(0, _dist("IGROUPR", 1), 1 << 18),  # irq 50 group 1
          Write(0, _dist("ISENABLER", 1), 0b111 << 16),  # 48, 49, 50
          Write(0, _dist("ISPENDR", 1), 0b1011 << 16),  # 48, 49, 51 (disabled)
          Write(0, _dist("ISACTIVER", 1), 1 << 19),  # 51 pending and active
          Write(0, _dist("ISENABLER", 3), 1 << 4),  # 100
          Write(1, _dist("ISPENDR", 3), 1 << 4),  # 100, from CPU1
          Write(1, _dist("ISACTIVER", 6), 1 << 8)]  # 200 active, disabled
    # banked state, different per CPU
    w += [Write(0, _dist("IPRIORITYR", 0), 0x8060_4020), Write(1, _dist("IPRIORITYR", 0),
                                                               0x0403_0201),
          Write(0, GICD + _BANK["IPRIORITYR"] + 27, 0x50, 8),
          Write(1, _dist("IPRIORITYR", 7), 0xA0B0_C0D0),
          Write(0, _dist("IGROUPR", 0), 0x0001_0002), Write(1, _dist("IGROUPR", 0), 0x0800_0001),
          Write(0, _dist("ISENABLER", 0), 1 << 16 | 1 << 27), Write(1, _dist("ISENABLER", 0),
                                                                   1 << 30),
          Write(1, _dist("ICENABLER", 0), 1 << 30), Write(1, _dist("ISENABLER", 0), 1 << 29),
          Write(0, _dist("ISACTIVER", 0), 1 << 3), Write(1, _dist("ISACTIVER", 0), 1 << 20)]
    # SGIs: SGI1 pending on CPU0 from CPUs 0 and 1; SGI5 to CPU1 from CPU0 (SGIR); SGI14
    # to CPU0 from CPU1; SGI 2 set on CPU1 then cleared again
    # (byte writes: a zero byte of a SPENDSGIR word write marks that SGI pending, dev. 16)
    w += [Write(0, _dist("SPENDSGIR", 0) + 1, 0x03, 8),
          Write(0, GICD + GICD_SGIR.offset, GICD_SGIR.pack(sgi_int_id=5, cpu_target_list=2)),
          Write(1, GICD + GICD_SGIR.offset, GICD_SGIR.pack(sgi_int_id=14, cpu_target_list=1)),
          Write(1, _dist("SPENDSGIR", 0) + 2, 0x01, 8),
          Write(1, _dist("CPENDSGIR", 0) + 2, 0x01, 8)]
    # CPU interfaces
    w += [Write(0, GICC + GICC_CTLR.offset, GICC_CTLR.pack(enable_grp0=1, enable_grp1=1,
                                                           ack_ctl=1)),
          Write(0, GICC + GICC_PMR.offset, 0xF0), Write(0, GICC + GICC_BPR.offset, 2),
          Write(0, GICC + GICC_ABPR.offset, 4), Write(0, GICC + GICC_APR.offset, 0x100),
          Write(0, GICC + GICC_NO_STATE["GICC_NSAPR0"], 0x1),
          Write(1, GICC + GICC_CTLR.offset, GICC_CTLR.pack(enable_grp0=1, enable_grp1=1,
                                                           eoi_mode=1)),
          Write(1, GICC + GICC_PMR.offset, 0x80), Write(1, GICC + GICC_BPR.offset, 3),
          Write(1, GICC + GICC_ABPR.offset, 5),
          Write(1, GICC + GICC_NO_STATE["GICC_NSAPR0"] + 4, 0x8000)]
    # virtual interfaces
    w += [Write(0, GICH + GICH_HCR.offset, GICH_HCR.pack(en=1, npie=1, vgrp1eie=1,
                                                         eoicount=2)),
          Write(0, GICH + GICH_VMCR.offset, GICH_VMCR.pack(vmgrp0en=1, vmgrp1en=1, vmabp=3,
                                                           vmbp=2, vmprimask=0x1E)),
          Write(0, GICH + GICH_APR.offset, 0x10),
          Write(0, GICH + GICH_LR.offset, GICH_LR.pack(virtual_id=45, priority=10, state=1,
                                                       grp1=1)),
          Write(0, GICH + GICH_LR.offset + 4, GICH_LR.pack(virtual_id=3, cpuid=1, state=2)),
          Write(0, GICH + GICH_LR.offset + 12, GICH_LR.pack(virtual_id=77, eoi=1)),
          Write(1, GICH + GICH_HCR.offset, GICH_HCR.pack(en=1, uie=1, vgrp0die=1, eoicount=5)),
          Write(1, GICH + GICH_VMCR.offset, GICH_VMCR.pack(vmgrp1en=1, vmackctl=1, vmabp=4,
                                                           vmbp=3, vmprimask=0x1F)),
          Write(1, GICH + GICH_LR.offset, GICH_LR.pack(virtual_id=27, priority=6, state=1)),
          Write(1, GICH + GICH_LR.offset + 8, GICH_LR_HW.pack(virtual_id=30, physical_id=200,
                                                              priority=31, state=3, hw=1))]
    return w


@pytest.fixture(scope="module")
def guest_streams(
        tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, driver.Report]]:
    """The guest at reset and after `programmed()`, each migrated to a file."""
    require_qemu()
    base = tmp_path_factory.mktemp("guest")
    programs = {"reset": [], "programmed": programmed()}
    jobs = [lambda n=n, p=p: driver.make_template(base / f"{n}.mig", shared_machine(), p)
            for n, p in programs.items()]
    reports = driver.run_parallel(jobs)
    return {n: (base / f"{n}.mig", r) for n, r in zip(programs, reports, strict=True)}


@pytest.mark.parametrize("name", ["reset", "programmed"])
def test_guest_reads_back_the_state_its_stream_imports_to(
        name: str, guest_streams: dict[str, tuple[Path, driver.Report]]) -> None:
    stream, before = guest_streams[name]
    state = import_tcg(stream)
    assert_readback(before, state)  # on the source, before the migration
    after = driver.readback(stream, shared_machine())
    assert_readback(after.loaded, state)  # on the destination, after `cont`
    assert_readback(after.refreshed, state)  # and after QEMU recomputed its caches
    assert after.loaded.seq > before.seq


def test_programmed_state_is_what_the_guest_wrote(
        guest_streams: dict[str, tuple[Path, driver.Report]]) -> None:
    """Spot checks of the imported state itself, so that a wrong import cannot hide
    behind a prediction computed from it."""
    s = import_tcg(guest_streams["programmed"][0])
    assert s.enable_grp0 and s.enable_grp1
    assert s.shared.priority[16:20] == bytes([0x10, 0x20, 0x30, 0x40])
    assert s.shared.targets[16:20] == bytes([0x02, 0x03, 0x01, 0x02])
    assert s.shared.pending_latch >> 16 & 0xF == 0b1011
    assert s.shared.active >> 19 & 1 and s.shared.active >> 168 & 1
    assert s.banked[1].sgi_sources[5] == 0x1 and s.banked[0].sgi_sources[14] == 0x2
    assert s.banked[0].sgi_sources[1] == 0x3 and s.banked[1].sgi_sources[2] == 0
    assert s.banked[1].enabled >> 29 & 1 and not s.banked[1].enabled >> 30 & 1
    assert (s.cpu[1].pmr, s.cpu[1].bpr, s.cpu[1].abpr) == (0x80, 3, 5)
    assert s.virtual[0].lr[3] == GICH_LR.pack(virtual_id=77, eoi=1)
    # the maintenance interrupt (PPI 25) is asserted on CPU0 (MISR.EOI from LR3) and CPU1
    # (MISR.VGrp0D: VGrp0DIE with VMGrp0En 0)
    assert s.banked[0].line_level >> 25 & 1 and s.banked[1].line_level >> 25 & 1
