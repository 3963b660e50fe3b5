"""States the HTML tests draw: fixtures, and after-migration variants with known changes."""

from __future__ import annotations

from pathlib import Path

import gicmig
from gicmig.core.model import GicState

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "fixtures" / "v1"
HOSTILE = {
    "vmm": "</script><img src=x onerror=alert(1)>",
    "tool_version": "\"'><svg onload=alert(2)>",
    "host_kernel": "&lt;b&gt; & <!-- --> ]]> \u202e",
    "vmm_version": "</style><link rel=stylesheet href=http://example.com/x.css>",
}


def load(name: str) -> GicState:
    return gicmig.load(V1 / name)


def migrated_busy() -> GicState:
    """`busy` as a broken migration might restore it: a stuck SPI, a lost enable, a moved
    target, a PPI latched on cpu1, a lower PMR, an SGI source dropped."""
    st = load("busy.gicmig")
    sh = st.shared
    sh.pending_latch |= 1 << (100 - 32)
    sh.enabled &= ~(1 << (287 - 32))
    targets = bytearray(sh.targets)
    targets[64 - 32] = 0b10
    sh.targets = bytes(targets)
    cpu1 = st.banked[1]
    cpu1.pending_latch |= 1 << 27
    cpu1.edge |= 1 << 27
    st.cpu[1].pmr = 0x80
    cpu0 = st.banked[0]
    sources = bytearray(cpu0.sgi_sources)
    sources[2] = 0b01
    cpu0.sgi_sources = bytes(sources)
    st.provenance.vmm = "qemu"
    return st


def every_interrupt_changed(state: GicState) -> GicState:
    """Every interrupt's priority moves, and every SPI/PPI flips its enable."""
    out = state.copy()
    step = 1 << (8 - state.config.priority_bits)
    sh = out.shared
    sh.priority = bytes((p + step) & 0xFF for p in sh.priority)
    sh.enabled ^= (1 << state.config.num_spis) - 1
    for b in out.banked:
        b.priority = bytes((p + step) & 0xFF for p in b.priority)
        b.enabled ^= 0xFFFF_0000
    return out


def hostile(state: GicState) -> GicState:
    out = state.copy()
    for key, value in HOSTILE.items():
        setattr(out.provenance, key, value)
    return out
