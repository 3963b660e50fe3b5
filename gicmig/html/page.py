"""The parts both pages share: the style sheet, the interrupt matrix, the panels.

One self-contained document: no script, no external style, font or image; a
Content-Security-Policy forbids loading anything, so a page opened from a CI artifact
on an air-gapped machine looks the same, and hostile input cannot run. Everything that
comes from an input is escaped (`esc`). Colour is never the only signal: every state has
a glyph, changed cells a `Δ` line and changed rows an `old -> new` value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from html import escape

from gicmig import __version__
from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.html.facts import LR_COLUMNS, Cell, Panel, Row, attrs_of, register_of
from gicmig.statediff.change import Change

ROW = 32  # interrupt IDs per matrix row: one GICD_ISENABLERn word, and fits a screen

CSS = """
*{box-sizing:border-box}
body{font:13px/1.35 "DejaVu Sans",system-ui,sans-serif;margin:12px;color:#111;background:#fff}
h1{font-size:19px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #999}
h3{font-size:13px;margin:0 0 4px}code,.mono{font-family:"DejaVu Sans Mono",monospace}
nav a{margin-right:12px}.muted{color:#666}
table.kv{border-collapse:collapse;font-size:12px}
table.kv th,table.kv td{border:1px solid #ccc;padding:1px 5px;text-align:left;vertical-align:top}
table.kv th{font-weight:normal;color:#333;background:#f4f4f4}
table.kv td{font-family:"DejaVu Sans Mono",monospace}
tr.on td,td.on{font-weight:bold}
.panels{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.regs{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start;margin-bottom:6px}
table.kv tr.h th{background:#dde4ee;font-weight:bold;text-align:left}
td.chips{max-width:330px;font-size:11px;white-space:normal}.chip{white-space:nowrap;margin-right:6px}
.chip b{font-weight:normal}span.chip.x{background:#ffe0f2;outline:1px solid #d0008a}
.panel{border:1px solid #888;padding:6px;border-radius:3px;background:#fff}
table.m{border-collapse:collapse;font:9px/1.25 "DejaVu Sans Mono",monospace;table-layout:fixed;
  width:1544px}
table.m thead th{width:46px}table.m thead th:first-child{width:72px}
table.m th{font-weight:normal;color:#444;padding:0 2px;background:#eee;border:1px solid #ccc}
table.m thead th{position:sticky;top:0;z-index:1}
table.m tbody th{text-align:right;white-space:nowrap;width:70px}
table.m td{width:46px;height:39px;padding:1px 1px 1px 2px;border:1px solid #d0d0d0;white-space:pre;
  vertical-align:top;color:#6a6a6a;background:#fff;overflow:hidden}
table.m td.e{color:#000;border-color:#707070}
table.m td.r{color:#b8b8b8;border-color:#e2e2e2}
table.m td.g1{box-shadow:inset 3px 0 #2f62c9}
table.m td.p{background:#ffd780}
table.m td.a{background:#f5a3a3}
table.m td.p.a{background:linear-gradient(135deg,#ffd780 50%,#f5a3a3 50%)}
table.m td.u{border:2px dotted #8a2be2}
table.m td.n{background:#f3f3f3;border-color:#eee}
table.m td.z{background:repeating-linear-gradient(45deg,#fff 0 4px,#e4e4e4 4px 7px)}
table.m.diff td{height:50px}
table.m td.x{outline:3px solid #d0008a;outline-offset:-3px;color:#000}
table.m td.x b{color:#a0006a;font-weight:normal;text-decoration:line-through}
:target{outline:3px solid #000 !important;outline-offset:-1px}
tr.x td,tr.x th,td.x{background:#ffe0f2}
.panel.x{border:3px solid #d0008a}h2.x{color:#a0006a}
.legend{font-size:12px}.legend table.m td{height:39px}
.legend table.m{width:auto;table-layout:auto}.legend table.m td{vertical-align:middle}
.legend table.m td:nth-child(even){border:0;color:#111;width:auto;padding:0 14px 0 4px}
ol.changes{font:12px/1.35 "DejaVu Sans Mono",monospace;padding-left:4em;
  content-visibility:auto}
ol.changes a{color:#0645ad}
.warn{color:#a00}
ul.sum{columns:4 260px;margin:0;padding-left:1.4em;font-size:12px}
@media print{
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  body{margin:0;font-size:9pt}nav{display:none}
  table.m{width:100%;font-size:5.5px}table.m td{width:auto;height:auto;min-width:0}
  table.m thead th{position:static;width:auto}table.m thead th:first-child{width:5%}
  .legend table.m{width:auto}
  .panel,tr{break-inside:avoid}h2{break-after:avoid}
  a{color:inherit;text-decoration:none}ol.changes{content-visibility:visible}
}
"""

LEGEND = (
    "<h2 id=legend>Legend</h2><div class=legend><p>Each cell is one interrupt ID as one CPU sees "
    "it (IDs 0&ndash;31 are banked per CPU; SPIs are shared). Hover a cell for every value and "
    "the register and bit that shows it. Line 1: <code>E</code> enabled, <code>P</code> "
    "pending latch (SGIs: some source CPU; <code>p</code>: a latch that may be KVM's stale "
    "one), <code>L</code> line level high, <code>??</code> "
    "pending but latch and line not told apart (UNKNOWN), <code>A</code> active, "
    "<code>&middot;</code> off. Line 2: group (<code>0</code>/<code>1</code>), trigger "
    "(<code>&uarr;</code> edge, <code>&oline;</code> level), priority in hex, and the CPU it "
    "is active on: <code>@1</code> (<code>@?</code> UNKNOWN). Line 3, one slot per CPU: the "
    "targets of an SPI, the source CPUs of a pending SGI (<code>0&middot;2&middot;</code> = "
    "CPUs 0 and 2).</p>"
    "<table class=m><tr><td class=r>····<br>0‾00<br>··</td><td>reset values (faint)</td>"
    "<td>····<br>0‾a0</td><td>disabled</td><td class=e>E···<br>0‾a0</td><td>enabled</td>"
    "<td class='e p'>EP··<br>0↑20</td><td>pending</td>"
    "<td class='e a g1'>E··A<br>1↑40@1<br>·1</td><td>active, group 1 (blue bar)</td>"
    "<td class='e p a'>EPLA<br>0‾10</td><td>pending and active</td>"
    "<td class='e p u'>E??·<br>0‾30</td><td>UNKNOWN (dotted border)</td>"
    "%s</tr></table></div>"
)
DIFF_LEGEND = ("<td class='e x'>E··A<br>0‾a0<br><br>Δ<b>E···</b></td><td>changed (Δ line: "
               "before, struck through)</td><td class=z></td><td>absent on one side</td>")


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def slug(path: str) -> str:
    """An element id for a diff path (ids hold no whitespace)."""
    return re.sub(r"[^A-Za-z0-9_.:-]+", "_", path).strip("_")


def document(title: str, body: Iterable[str]) -> str:
    head = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<meta name=generator content='gicmig {esc(__version__)}'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
    )
    return head + "\n".join(body) + f"\n<footer class=muted><p>gicmig {esc(__version__)}</p>" \
        "</footer></body></html>\n"


# --- the interrupt matrix ------------------------------------------------------------------
def _title(cell: Cell) -> list[str]:
    i = cell.irq
    values = cell.values()
    return [f"{a}: {values[a]}" + (f"  [{r}]" if (r := register_of(a, i.intid)) else "")
            for a in attrs_of(i.intid)]


def state_cell(cell: Cell, faint: bool = False) -> str:
    """A cell; `faint`: it holds its reset values."""
    title = "\n".join([labels.irq(cell.irq.intid, cell.cpu), *_title(cell)])
    body = "<br>".join(esc(g) for g in cell.glyphs() if g)
    classes = [*cell.classes(), "r"] if faint else cell.classes()
    return f"<td id={cell.anchor} class='{' '.join(classes)}' title='{esc(title)}'>" \
           f"{body}</td>"


def diff_cell(anchor: str, a: Cell | None, b: Cell | None, changes: list[Change],
              faint: bool = False) -> str:
    """A cell of B (of A where B lacks it), marked with the changes that name it."""
    shown = b or a
    assert shown is not None
    classes = shown.classes()
    if faint and not changes:
        classes.append("r")
    if a is None or b is None:
        classes.append("z")
    lines = list(shown.glyphs())
    name = labels.irq(shown.irq.intid, shown.cpu)
    title = [name]
    if changes:
        classes.append("x")
        title += [f"Δ {_attr(ch) or 'exists'}: {ch.old} -> {ch.new}" for ch in changes]
        title.append("after:" if b is not None else "before (absent after):")
        if a is None or b is None:
            was = "absent" if a is None else ""
        else:
            was = next((x for x, y in zip(a.glyphs(), lines, strict=True) if x != y), "")
        while lines and not lines[-1]:
            lines.pop()
        lines += [""] * (3 - len(lines))
        body = "<br>".join(esc(g) for g in lines) + f"<br>Δ<b>{esc(was)}</b>"
    else:
        body = "<br>".join(esc(g) for g in lines if g)
    title += _title(shown)
    return f"<td id={anchor} class='{' '.join(classes)}' title='{esc(chr(10).join(title))}'>" \
           f"{body}</td>"


def _attr(ch: Change) -> str:
    m = IRQ_PATH.match(ch.path)
    return m.group(5) or "" if m else ""


# `cpu1 irq 16-31 (PPI 0-15) enabled`: the diff's interrupt paths (docs/diff.md)
IRQ_PATH = re.compile(r"(?:cpu(\d+) )?irq (\d+)(?:-(\d+))? \(([^)]*)\)(?: (\w+))?$")


def irq_anchors(path: str) -> list[str]:
    """The cells an interrupt change names (none for other paths)."""
    m = IRQ_PATH.match(path)
    if not m:
        return []
    cpu, first = m.group(1), int(m.group(2))
    last = int(m.group(3) or first)
    return [f"i{k}" if k >= NUM_PRIVATE else f"c{cpu}i{k}" for k in range(first, last + 1)]


def matrix(num_cpus: int, num_irqs: int, cell_html: Callable[[str], str | None],
           changed: Mapping[str, Change] | None = None) -> Iterator[str]:
    """Rows of 32 IDs: IDs 0-31 once per CPU, then the SPIs; `cell_html(anchor)` gives a
    cell (None: an ID that exists on no side)."""
    changed = changed if changed is not None else {}
    yield f"<table class='m{' diff' if changed else ''}'><thead><tr><th>ID</th>" + "".join(
        f"<th>+{k}</th>" for k in range(ROW)) + "</tr></thead><tbody>"
    for c in range(num_cpus):
        row = "".join(cell_html(f"c{c}i{k}") or "<td class=n></td>" for k in range(ROW))
        ch = changed.get(f"cpu{c}")  # a CPU on one side only
        head = (f"<th class=x title='Δ cpu{c}: {esc(ch.old)} -&gt; {esc(ch.new)}'>cpu{c} Δ<br>"
                f"{esc(ch.old)} -&gt;<br>{esc(ch.new)}</th>" if ch else
                f"<th>cpu{c}<br>SGI 0&ndash;15<br>PPI 16&ndash;31</th>")
        yield f"<tr id=cpu{c}{' class=x' if ch else ''}>{head}{row}</tr>"
    for base in range(NUM_PRIVATE, num_irqs, ROW):
        row = "".join(cell_html(f"i{k}") or "<td class=n></td>" for k in range(base, base + ROW))
        last = min(base + ROW, num_irqs) - 1
        yield f"<tr><th>SPI<br>{base}&ndash;{last}</th>{row}</tr>"
    yield "</tbody></table>"


# --- panels ----------------------------------------------------------------------------------
def _th(row: Row) -> str:
    reg = f" title='{esc(row.register)}'" if row.register else ""
    return f"<th{reg}>{esc(row.label)}</th>"


def panel_html(p: Panel, changed: Mapping[str, Change] | None = None) -> str:
    """A panel; with `changed` (diff page) rows named by a change show `old -> new`, and
    a panel that exists on one side only says so."""
    changed = changed or {}
    whole = changed.get(p.key)
    mark = " x" if whole else ""
    out = [f"<div class='panel{mark}' id={slug(p.key)}><h3>{esc(p.title)}</h3>"]
    if whole:
        out.append(f"<p class=warn>Δ {esc(whole.old)} -&gt; {esc(whole.new)}</p>")
    out.append("<div class=regs>")
    close = ""  # what ends the current group: a table or a list of chips
    n_chips = -1  # entries in the current list of chips (-1: not a list)
    for r in p.rows:
        if r.head or not close:
            out.append(("none" if n_chips == 0 else "") + close)
            n_chips = 0 if r.chips else -1
            word = f" <code>{esc(r.value)}</code>" if r.head and r.value and not changed else ""
            head = (f"<tr id={slug(r.path)}-h class=h><th colspan=2>{esc(r.label)}{word}</th>"
                    "</tr>" if r.head else "")
            if r.chips:
                out.append(f"<table class=kv>{head}<tr><td colspan=2 class=chips>")
                close = "</td></tr></table>"
            else:
                out.append(f"<table class=kv>{head}")
                close = "</table>"
            chips = r.chips
            if r.head:
                continue
        ch = changed.get(r.path)
        value = f"Δ {esc(ch.old)} -&gt; {esc(ch.new)}" if ch else esc(r.value)
        mark = " x" if ch else ""
        if chips:
            n_chips += 1
            reg = f" title='{esc(r.register)}'" if r.register else ""
            out.append(f"<span id={slug(r.path)} class='chip{mark}'{reg}>{esc(r.label)}: "
                       f"<b>{value}</b></span> ")
            continue
        on = " on" if r.value not in ("0", "0x00", "false", "", "none") else ""
        out.append(f"<tr id={slug(r.path)} class='{(mark + on).strip()}'>{_th(r)}"
                   f"<td>{value}</td></tr>")
    out.append(("none" if n_chips == 0 else "") + close + "</div>")
    if p.lrs:
        out.append("<table class=kv><tr><th>LR</th>" +
                   "".join(f"<th>{esc(c)}</th>" for c in LR_COLUMNS) + "</tr>")
        for n, fields in enumerate(p.lrs):
            lr_path = fields[0].path.rpartition(".")[0]
            cells = []
            for r in fields:
                ch = changed.get(r.path)
                value = f"Δ {esc(ch.old)} -&gt; {esc(ch.new)}" if ch else esc(r.value)
                mark = " class=x" if ch else ""
                if r.label == "reserved":
                    cells.append(f"<td id={slug(r.path)}{mark} title='{esc(r.register)}'>"
                                 f"reserved {value}</td>")
                else:
                    cells.append(f"<td id={slug(r.path)}{mark} title='{esc(r.register)}'>"
                                 f"{value}</td>")
            out.append(f"<tr id={slug(lr_path)}><th>LR{n}</th>{''.join(cells)}</tr>")
        out.append("</table>")
    out.append("</div>")
    return "".join(out)

SECTIONS = (("gicc", "CPU interfaces (GICC)"), ("gich", "Virtual interfaces (GICH)"),
            ("hyp", "Hypervisor context"), ("params", "Parameters, distributor, provenance"))
SECTION_IDS = {"gicc": "gicc", "gich": "gich", "hyp": "hypervisor", "params": "params"}


def sections(found: Iterable[Panel], render: Callable[[Panel], str],
             changed: Mapping[str, Change] | None = None) -> Iterator[str]:
    """The panels under one heading per kind, in SECTIONS order; a heading whose id a
    change names (`hypervisor`: context on one side only) shows that change."""
    by: dict[str, list[str]] = {}
    for p in found:
        kind = p.key.rpartition(" ")[2] if p.key.startswith("cpu") else "params"
        by.setdefault(kind, []).append(render(p))
    for kind, title in SECTIONS:
        if kind in by:
            sid = SECTION_IDS[kind]
            ch = (changed or {}).get(sid)
            note = f" Δ {esc(ch.old)} -&gt; {esc(ch.new)}" if ch else ""
            mark = " class=x" if ch else ""
            yield f"<h2 id={sid}{mark}>{title}{note}</h2><div class=panels>"
            yield from by[kind]
            yield "</div>"
