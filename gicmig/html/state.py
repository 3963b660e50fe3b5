"""The HTML page of one state: `gicmig show STATE --format html`."""

from __future__ import annotations

from gicmig.core.model import GicState
from gicmig.html.facts import at_reset, cells, counts, from_reset, panels
from gicmig.html.page import LEGEND, document, esc, matrix, panel_html, sections, state_cell


def state_page(st: GicState, name: str = "state") -> str:
    """A self-contained HTML document drawing `st` (`name` says where it came from)."""
    found = cells(st)
    base = from_reset(st)
    faint = at_reset(found, st.config)
    n = counts(found)
    cfg, prov = st.config, st.provenance
    virt = cfg.virtualization
    body = [
        f"<h1>GIC state <code>{esc(name)}</code></h1>",
        f"<p>{cfg.num_cpus} CPUs &middot; {cfg.num_irqs} interrupt IDs ({cfg.num_spis} SPIs) "
        f"&middot; {esc(cfg.revision)}, {cfg.priority_bits} priority bits &middot; "
        + (f"virtualization extensions, {virt.num_lrs} LRs" if virt else "no GICH")
        + f" &middot; from {esc(prov.source)} &middot; schema revision {st.schema_revision}"
        f" &middot; distributor EnableGrp0 {int(st.enable_grp0)}, EnableGrp1 "
        + ("UNKNOWN" if st.enable_grp1_unknown else str(int(st.enable_grp1))) + "</p>",
        f"<p><b>{len(base)}</b> facts differ from reset. Interrupt cells: <b>{n['e']}</b> "
        f"enabled (E), <b>{n['p']}</b> pending (P/L/??), <b>{n['a']}</b> active (A), "
        f"<b>{n['g1']}</b> group 1, <b>{n['u']}</b> with an UNKNOWN marker.</p>",
        "<nav><a href=#irqs>Interrupts</a><a href=#gicc>CPU interfaces</a>"
        + ("<a href=#gich>Virtual interfaces</a>" if st.virtual else "")
        + ("<a href=#hypervisor>Hypervisor context</a>" if st.hypervisor is not None else "")
        + "<a href=#params>Parameters</a><a href=#legend>Legend</a></nav>",
        LEGEND % "",
        "<h2 id=irqs>Interrupts</h2>",
        *matrix(cfg.num_cpus, cfg.num_irqs,
                lambda anchor: state_cell(found[anchor], anchor in faint)
                if anchor in found else None),
    ]
    body += sections(panels(st, base), panel_html)
    return document(f"gicmig state: {name}", body)

