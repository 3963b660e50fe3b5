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
    """Every interrupt changes group, and every SPI its targets too."""
    out = state.copy()
    sh = out.shared
    sh.group ^= (1 << state.config.num_spis) - 1
    sh.targets = bytes(t ^ 1 for t in sh.targets)
    for b in out.banked:
        b.group ^= 0xFFFF_FFFF
    return out


def hostile(state: GicState) -> GicState:
    out = state.copy()
    for key, value in HOSTILE.items():
        setattr(out.provenance, key, value)
    return out
