"""The HTML page of a diff: `gicmig diff A B --format html`.

The same layout as a state page, drawn with B's values (A's where B lacks a cell), every
cell and row that a change names marked with `Δ` and both values; a summary of counts
per kind of change; and the diff's own lines, each linked to the cell or row it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from gicmig.core.model import GicState
from gicmig.html.facts import Panel, Row, at_reset, cells, panels
from gicmig.html.page import (
    DIFF_LEGEND,
    IRQ_PATH,
    LEGEND,
    diff_cell,
    document,
    esc,
    irq_anchors,
    matrix,
    panel_html,
    sections,
    slug,
)
from gicmig.statediff.change import Change
from gicmig.statediff.semantic import diff


def change_kind(ch: Change) -> str:
    """What a change is about, without its place: `enabled`, `gicc.ctlr`, `gich.lrN`."""
    m = IRQ_PATH.match(ch.path)
    if m:
        return f"irq {m.group(5) or 'exists'}"
    rest = re.sub(r"^cpu\d+ ?", "", ch.path)
    if not rest:
        return "cpu exists"
    head = ".".join(rest.split(" ")[0].split(".")[:2])
    return re.sub(r"(?<=[a-z])\d+$", "N", head)


def _prefixes(path: str) -> Iterator[str]:
    yield path
    while (cut := max(path.rfind("."), path.rfind(" "))) > 0:
        path = path[:cut]
        yield path


def _merge(pa: list[Panel], pb: list[Panel]) -> list[Panel]:
    """One panel per key of either side, with the rows of both (B's order first)."""
    by_a = {p.key: p for p in pa}
    by_b = {p.key: p for p in pb}
    out = []
    for key in dict.fromkeys([*by_b, *by_a]):
        a, b = by_a.get(key), by_b.get(key)
        shown = b or a
        assert shown is not None
        ga, gb = _groups(a), _groups(b)
        rows: list[Row] = []
        for head in dict.fromkeys([*gb, *ga]):  # a row of A only joins its own group
            group = {(r.path, r.head): r for r in gb.get(head, [])}
            for r in ga.get(head, []):
                group.setdefault((r.path, r.head), r)
            rows += group.values()
        lrs = max((a.lrs if a else []), (b.lrs if b else []), key=len)
        out.append(Panel(shown.key, shown.title, rows, lrs))
    return out


def _groups(p: Panel | None) -> dict[str, list[Row]]:
    """A panel's rows by the head that starts their group (head first)."""
    out: dict[str, list[Row]] = {}
    head = ""
    for r in p.rows if p else ():
        head = r.path if r.head else head
        out.setdefault(head, []).append(r)
    return out


def diff_page(a: GicState, b: GicState, changes: Sequence[Change] | None = None, *,
              names: tuple[str, str] = ("A", "B"), ignore: Sequence[str] = ()) -> str:
    """A self-contained HTML document of what changed from `a` to `b` (`changes`, when
    given, is `diff(a, b, ignore=...)` already computed)."""
    if changes is None:
        changes = diff(a, b, ignore=ignore)
    ca, cb = cells(a), cells(b)
    faint = at_reset(cb, b.config) & at_reset(ca, a.config)
    per_cell: dict[str, list[Change]] = {}
    for ch in changes:
        for anchor in irq_anchors(ch.path):
            per_cell.setdefault(anchor, []).append(ch)
    merged = _merge(panels(a), panels(b))
    by_path = {ch.path: ch for ch in changes}
    ids = {slug(p.key) for p in merged}
    ids |= {slug(r.path) for p in merged for r in p.rows if not r.head}
    ids |= {slug(r.path) for p in merged for lr in p.lrs for r in lr}
    ids |= {slug(r.path.rpartition(".")[0]) for p in merged for lr in p.lrs for r in lr}
    num_cpus = max(a.config.num_cpus, b.config.num_cpus)
    ids |= {f"cpu{c}" for c in range(num_cpus)}
    if a.hypervisor is not None or b.hypervisor is not None:
        ids.add("hypervisor")

    def target(ch: Change) -> str | None:
        anchors = irq_anchors(ch.path)
        if anchors:
            return anchors[0]
        return next((slug(p) for p in _prefixes(ch.path) if slug(p) in ids), None)

    kinds: dict[str, list[int]] = {}
    for n, ch in enumerate(changes):
        k = kinds.setdefault(change_kind(ch), [n, 0, 0])
        k[1] += 1
        k[2] += len(irq_anchors(ch.path))
    summary = ["<ul class=sum>"]
    for kind, (first, lines, ncells) in kinds.items():
        touched = f", {ncells} cell{'s' * (ncells != 1)}" if ncells else ""
        summary.append(f"<li><a href=#ch{first}>{esc(kind)}</a>: <b>{lines}</b> "
                       f"line{'s' * (lines != 1)}{touched}</li>")
    summary.append("</ul>")
    listed = []
    for n, ch in enumerate(changes):
        where = target(ch)
        path = f"<a href=#{where}>{esc(ch.path)}</a>" if where else esc(ch.path)
        reg = f" [{esc(ch.register)}]" if ch.register else ""
        listed.append(f"<li id=ch{n}>{path}: {esc(ch.old)} -&gt; {esc(ch.new)}{reg}</li>")
    name_a, name_b = names
    verdict = (f"<b>{len(changes)}</b> change lines, touching <b>{len(per_cell)}</b> interrupt "
               "cells." if changes else "<b>No differences</b>: the two states are the same.")
    cfg_a, cfg_b = a.config, b.config
    body = [
        f"<h1>GIC diff <code>{esc(name_a)}</code> &rarr; <code>{esc(name_b)}</code></h1>",
        f"<p>A: {cfg_a.num_cpus} CPUs, {cfg_a.num_irqs} IDs, from {esc(a.provenance.source)}"
        f" &middot; B: {cfg_b.num_cpus} CPUs, {cfg_b.num_irqs} IDs, from "
        f"{esc(b.provenance.source)}. Cells and rows show B (A where B lacks them); a "
        "changed one is marked &Delta; with A's value.</p>",
        f"<p>{verdict}</p>",
        "<nav><a href=#summary>Summary</a><a href=#irqs>Interrupts</a><a href=#gicc>CPU "
        "interfaces</a><a href=#params>Parameters</a><a href=#changes>Changes</a>"
        "<a href=#legend>Legend</a></nav>",
        "<h2 id=summary>Summary</h2>", *summary,
        LEGEND % DIFF_LEGEND,
        "<h2 id=irqs>Interrupts</h2>",
        *matrix(num_cpus, max(cfg_a.num_irqs, cfg_b.num_irqs),
                lambda k: diff_cell(k, ca.get(k), cb.get(k), per_cell.get(k, []), k in faint)
                if k in ca or k in cb else None, by_path),
    ]
    body += sections(merged, lambda p: panel_html(p, by_path), by_path)
    body += ["<h2 id=changes>Changes (the text diff, <code>--registers</code>)</h2>",
             # laid out when scrolled to; until then as tall as its lines will be
             f"<ol class=changes style='contain-intrinsic-size:auto {16 * len(listed)}px'>",
             *listed, "</ol>"]
    return document(f"gicmig diff: {name_a} -> {name_b}", body)
