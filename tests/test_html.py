"""The HTML pages, parsed with a real HTML parser: every non-reset fact of a state and
every change of a diff appears where the page says it does; hostile input stays text."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from html_cases import (
    HOSTILE,
    ROOT,
    V1,
    every_interrupt_changed,
    hostile,
    load,
    migrated_busy,
)
from html_tree import Page, parse

import gicmig
from gicmig.core.model import GicState
from gicmig.html import diff_page, state_page
from gicmig.html.page import slug
from gicmig.statediff.change import Change
from gicmig.statediff.semantic import diff

# the diff's interrupt paths, as docs/diff.md documents them
IRQ = re.compile(r"(?:cpu(\d+) )?irq (\d+)(?:-(\d+))? \([^)]*\)(?: (\w+))?$")
STATES = ["busy.gicmig", "max.gicmig", "hyp-context.gicmig", "reset-virt-2cpu.gicmig",
          "../v3/kvm-stale-latch.gicmig", "../v2/kvm-grp1-unknown.gicmig"]


def anchors(m: re.Match[str]) -> list[str]:
    first = int(m.group(2))
    return [f"i{k}" if k >= 32 else f"c{m.group(1)}i{k}"
            for k in range(first, int(m.group(3) or first) + 1)]


def title_lines(page: Page, anchor: str) -> list[str]:
    return page.by_id[anchor].attrs["title"].splitlines()


def unquote(value: str) -> str:
    return json.loads(value) if value.startswith('"') else value


# --- state pages -------------------------------------------------------------------------------
def check_state(st: GicState) -> Page:
    page = parse(state_page(st, "state"))
    facts = diff(GicState.reset(st.config), st)
    assert facts or st == GicState.reset(st.config)
    for ch in facts:
        m = IRQ.match(ch.path)
        if m:
            attr = m.group(4)
            for anchor in anchors(m):
                lines = [ln.split("  [")[0] for ln in title_lines(page, anchor)]
                assert f"{attr}: {ch.new}" in lines, (ch, anchor)
            if m.group(3) is None and ch.register:  # the hover names the diff's register
                assert f"{attr}: {ch.new}  [{ch.register}]" in title_lines(page, anchors(m)[0])
        elif ch.path == "hypervisor":
            assert "hypervisor" in page.by_id
        else:
            node = page.by_id[slug(ch.path)]
            assert unquote(ch.new) in node.text(), ch
            if ch.register:
                assert ch.register in {n.attrs.get("title") for n in node.walk()}, ch
    return page


@pytest.mark.parametrize("name", STATES)
def test_every_non_reset_fact_of_a_state_appears(name: str) -> None:
    check_state(load(name))


def test_every_fact_of_kvm_and_qemu_states_appears() -> None:
    from gicmig.inputs import load_input

    for spec in (f"{ROOT}/fixtures/kvm/two-vcpu.json",
                 f"qemu:tcg:{ROOT}/examples/qemu-7.2-virt.mig",
                 f"{ROOT}/fixtures/v2/kvm-grp1-unknown.gicmig"):
        check_state(load_input(spec))


def _cell(page: Page, anchor: str) -> tuple[str, set[str]]:
    node = page.by_id[anchor]
    return node.text(), node.classes


def test_cells_draw_the_values_of_busy() -> None:
    page = parse(state_page(load("busy.json")))
    # enabled, group 1, edge, latched, active on cpu1, targets {1}
    assert _cell(page, "i41") == ("EP·A\n1↑20@1\n·1", {"e", "p", "a", "g1"})
    # disabled, level, line high: pending through the line
    assert _cell(page, "i100") == ("··L·\n0‾a0\n0·", {"p"})
    # SGI 2 on cpu0: pending from CPUs 0 and 1 (SGIs reset enabled and edge)
    assert _cell(page, "c0i2") == ("EP··\n0↑30\n01", {"e", "p"})
    # SGI 1 on cpu0: active from source CPU 1
    assert _cell(page, "c0i1") == ("E··A\n0↑10@1", {"e", "a"})
    assert _cell(page, "c1i27") == ("··L·\n0‾b0", {"p"})
    assert _cell(page, "c0i27")[0] == "E·L·\n0‾a0"
    assert _cell(page, "i50") == ("····\n0‾00\n··", {"r"})  # reset values: faint
    title = title_lines(page, "i41")
    assert title[0] == "irq 41 (SPI 9)"
    assert "enabled: 1  [GICD_ISENABLER1 bit 9]" in title
    assert "priority: 0x20  [GICD_IPRIORITYR10 bits 15:8]" in title
    assert "active_cpu: 1" in title and "targets: {1}  [GICD_ITARGETSR10 bits 15:8]" in title
    assert "edge: 1  [GICD_ICFGR2 bit 19]" in title
    assert "pending_latch: 1  [GICD_ISPENDR0 bit 30, banked]" in title_lines(page, "c1i30")
    assert "sources: {0,1}  [GICD_SPENDSGIR0 bits 23:16, banked]" in title_lines(page, "c0i2")
    # panels: a set GICC_CTLR bit, PMR, an active priority, the distributor
    assert page.by_id["cpu1_gicc.ctlr.eoi_mode"].text() == "EOImode1"
    assert page.by_id["cpu1_gicc.ctlr.eoi_mode"].walk()[1].attrs["title"] == "GICC_CTLR bit 9"
    assert page.by_id["cpu0_gicc.pmr"].text() == "PMR0xf0"
    assert page.by_id["cpu1_gicc.active_priority_0x20"].text() == "0x20: group1"
    assert page.by_id["distributor.enable_grp1"].text() == "GICD EnableGrp11"
    assert "cpu0_gich" not in page.by_id  # busy has no virtualization extensions


def test_unknown_markers_are_drawn() -> None:
    page = parse(state_page(load("max.gicmig")))
    # latch OR line known, the split not: `??`; active on an UNKNOWN CPU: `@?`
    text, classes = _cell(page, "i37")
    assert text == "E??A\n0‾29@0\n·1··4··7" and {"u", "p", "a"} <= classes
    assert "pending_latch: unknown  [GICD_ISPENDR1 bit 5]" in title_lines(page, "i37")
    text, classes = _cell(page, "i33")
    assert text == "··LA\n1↑32@?\n···34·67" and "u" in classes and "p" not in classes
    st = gicmig.load(ROOT / "fixtures/v3/kvm-stale-latch.gicmig")
    page = parse(state_page(st))
    assert _cell(page, "c0i27")[0].startswith("E??A")  # latch OR line, and maybe stale
    assert "latch_maybe_stale: 1" in title_lines(page, "c0i27")
    st.banked[0].pending_split_unknown &= ~(1 << 27)  # a known latch that may be stale
    text, classes = _cell(parse(state_page(st)), "c0i27")
    assert text.startswith("Ep·A") and {"u", "a", "p"} <= classes
    grp1 = parse(state_page(gicmig.load(ROOT / "fixtures/v2/kvm-grp1-unknown.gicmig")))
    assert grp1.by_id["distributor.enable_grp1"].text().endswith("unknown")


def test_virtual_interface_and_hypervisor_panels() -> None:
    from gicmig.arch.registers import lr_layout

    st = load("max.gicmig")
    page = parse(state_page(st))
    for n, lr in enumerate(st.virtual[0].lr):
        for f in lr_layout(lr).fields:
            node = page.by_id[f"cpu0_gich.lr{n}.{f.name}"]
            assert node.attrs["title"] == f"GICH_LR{n} bits {f.shift + f.width - 1}:{f.shift}" \
                if f.width > 1 else node.attrs["title"] == f"GICH_LR{n} bit {f.shift}"
    assert {"cpu0_gich", "cpu7_gich", "cpu0_gich.vmcr.vmprimask"} <= page.by_id.keys()
    hyp = parse(state_page(load("hyp-context.gicmig")))
    assert "hypervisor" in hyp.by_id and "cpu0_hyp" in hyp.by_id
    assert "cpu0_gich" not in hyp.by_id


def test_max_page_is_under_one_mebibyte() -> None:
    assert len(state_page(load("max.gicmig"), "max").encode()) < 1 << 20


# --- diff pages --------------------------------------------------------------------------------
def check_diff(a: GicState, b: GicState, ignore: tuple[str, ...] = ()) -> tuple[Page, list[Change]]:
    changes = diff(a, b, ignore=ignore)
    page = parse(diff_page(a, b, changes, names=("a", "b")))
    marked: set[str] = set()
    for n, ch in enumerate(changes):
        li = page.by_id[f"ch{n}"]
        assert li.text() == ch.render(registers=True)  # the text diff's line
        link = next(x for x in li.walk() if x.tag == "a")
        target = link.attrs["href"].removeprefix("#")
        assert target in page.by_id, ch
        m = IRQ.match(ch.path)
        if m:
            cells = anchors(m)
            assert target == cells[0]
            for anchor in cells:
                node = page.by_id[anchor]
                assert "x" in node.classes, (ch, anchor)
                assert f"Δ {m.group(4) or 'exists'}: {ch.old} -> {ch.new}" in \
                    title_lines(page, anchor), (ch, anchor)
                marked.add(anchor)
        elif slug(ch.path) in page.by_id:
            node = page.by_id[slug(ch.path)]
            assert target == slug(ch.path)
            shown = [node.text(), *(n.attrs.get("title", "") for n in node.walk())]
            assert "x" in node.classes, ch
            assert any(f"{ch.old} -> {ch.new}" in t for t in shown), ch
    for node in page.all("td"):  # and no cell that no change names is marked changed
        if re.fullmatch(r"(c\d+)?i\d+", node.attrs.get("id", "")) and "x" in node.classes:
            assert node.attrs["id"] in marked
    summary = page.by_id["summary"]
    assert summary is not None
    return page, changes


@pytest.mark.parametrize(("a", "b"), [("busy", "max"), ("max", "busy"), ("busy", "busy"),
                                      ("reset-virt-2cpu", "hyp-context")])
def test_every_change_of_a_diff_appears(a: str, b: str) -> None:
    check_diff(load(f"{a}.gicmig"), load(f"{b}.gicmig"))


def test_every_change_of_a_migration_diff_appears() -> None:
    page, changes = check_diff(load("busy.gicmig"), migrated_busy())
    assert [c.render() for c in changes] == [
        "irq 64 (SPI 32) targets: {0,1} -> {1}",
        "irq 100 (SPI 68) pending_latch: 0 -> 1",
        "irq 287 (SPI 255) enabled: 1 -> 0",
        "cpu0 irq 2 (SGI 2) sources: {0,1} -> {0}",
        "cpu1 irq 27 (PPI 11) edge: 0 -> 1",
        "cpu1 irq 27 (PPI 11) pending_latch: 0 -> 1",
        "cpu1 gicc.pmr: 0xf8 -> 0x80",
        'provenance.vmm: "" -> "qemu"',
    ]
    # a changed cell shows B and the line of A that differs, struck through
    assert page.by_id["i64"].text() == "EP··\n0↑80\n·1\nΔ01"
    assert page.by_id["c1i27"].text() == "·PL·\n0↑b0\n\nΔ··L·"
    assert page.by_id["cpu1_gicc.pmr"].text() == "PMRΔ 0xf8 -> 0x80"
    kinds = page.root.walk()
    text = "".join(n.text() for n in kinds if n.tag == "ul" and "sum" in n.classes)
    assert "irq pending_latch: 2 lines, 2 cells" in text and "gicc.pmr: 1 line" in text


def test_a_list_entry_of_one_side_only_joins_its_own_group() -> None:
    a = load("hyp-context.gicmig")
    b = a.copy()
    ctx = b.hypervisor
    assert ctx is not None and ctx[0].hw_mappings
    ctx[0].hw_mappings = []  # the mappings exist in A only
    page, changes = check_diff(a, b)
    gone = [c for c in changes if "hw_mapping" in c.path]
    assert gone and all(c.new == "none" for c in gone)
    tables = [t for t in page.all("table") if t.text().startswith("HW mappings")]
    ids = {n.attrs.get("id") for t in tables for n in t.walk()}
    assert all(slug(c.path) in ids for c in gone)


def test_every_change_of_an_all_changed_diff_appears() -> None:
    mx = load("max.gicmig")
    _, changes = check_diff(mx, every_interrupt_changed(mx))
    assert len(changes) > 1000


def test_ignored_changes_are_left_out_of_the_page() -> None:
    page, changes = check_diff(load("busy.gicmig"), migrated_busy(),
                               ignore=("provenance.*", "*irq 100 *"))
    assert len(changes) == 6
    assert "x" not in page.by_id["i100"].classes


# --- hostile input -----------------------------------------------------------------------------
def test_hostile_provenance_and_names_stay_text() -> None:
    st = hostile(load("busy.gicmig"))
    name = "<script>alert(3)</script>.json"
    for html in (state_page(st, name), diff_page(load("busy.gicmig"), st, names=(name, name))):
        page = parse(html)
        tags = {n.tag for n in page.root.walk()}
        assert not tags & {"script", "img", "svg", "link", "iframe", "object"}
        assert len(page.all("style")) == 1 and len(page.all("meta")) == 4
        for value in HOSTILE.values():
            assert value not in html or value == html_escape_free(value)
        h1 = page.all("h1")[0].text()
        assert name in h1
    page = parse(state_page(st, name))
    for key, value in HOSTILE.items():
        assert page.by_id[f"provenance.{key}"].text() == key + value


def html_escape_free(value: str) -> str:
    """A value with nothing to escape would appear verbatim (none of ours do)."""
    return value if not set(value) & set("<>&\"'") else "\0"


# --- the command line ----------------------------------------------------------------------------
def gicmig_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`gicmig ARGS` run in this process from the repository root (a subprocess per call
    would cost most of this file's time)."""
    from gicmig.cli import main

    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(cwd)
    out.flush()
    return subprocess.CompletedProcess(args, code, out.buffer.getvalue().decode(), err.getvalue())


def test_show_text_lists_the_non_reset_facts() -> None:
    out = gicmig_cli("show", "fixtures/v1/busy.json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    facts = diff(GicState.reset(load("busy.json").config), load("busy.json"))
    assert lines[0] == "# fixtures/v1/busy.json: 2 CPUs, 288 interrupt IDs, GICv2, from fixture"
    assert lines[2:] == [f"{c.path}: {c.new}" for c in facts]
    assert "irq 40-41 (SPI 8-9) active_cpu: 1" in lines and "cpu1 gicc.pmr: 0xf8" in lines
    regs = gicmig_cli("show", "--registers", "fixtures/v1/busy.json").stdout.splitlines()
    assert "cpu1 gicc.pmr: 0xf8 [GICC_PMR bits 7:0]" in regs
    js = json.loads(gicmig_cli("show", "--format", "json", "fixtures/v1/busy.gicmig").stdout)
    assert (js["format"], js["version"], js["ok"], js["exit"]) == ("gicmig/show", 1, True, 0)
    assert js["facts"] == [{"path": c.path, "value": c.new, "register": c.register}
                           for c in facts]


def _inputs(tmp: Path) -> dict[str, str]:
    view = tmp / "view.json"
    out = gicmig_cli("export", "gich", "fixtures/v1/hyp-context.json", "-o", str(view))
    assert out.returncode == 0, out.stderr
    return {
        "blob": "fixtures/v1/busy.gicmig",
        "fixture": "fixtures/v1/hyp-context.json",
        "kvm": "fixtures/kvm/two-vcpu.json",
        "qemu": "qemu:tcg:examples/qemu-7.2-virt.mig",
        "gich": f"gich,keep_hypervisor_context=1:{view}",
    }


def test_both_pages_for_every_input_kind(tmp_path: Path) -> None:
    from gicmig.inputs import load_input

    inputs = _inputs(tmp_path)
    for kind, spec in inputs.items():
        out = tmp_path / f"{kind}.html"
        res = gicmig_cli("show", "--format", "html", "-o", str(out), spec)
        assert res.returncode == 0 and res.stdout == "", res.stderr
        html = out.read_text()
        assert html == state_page(load_input(spec if ":" in spec else str(ROOT / spec)), spec)
        parse(html)
        d = tmp_path / f"diff-{kind}.html"
        res = gicmig_cli("diff", "--format", "html", "-o", str(d), "fixtures/v1/max.json", spec)
        assert res.returncode == 1, res.stderr  # different, as `diff` says
        page = parse(d.read_text())
        assert page.all("ol")[0].children, kind
    same = tmp_path / "same.html"
    res = gicmig_cli("diff", "--format", "html", "-o", str(same), inputs["blob"],
                     "fixtures/v1/busy.json")
    assert res.returncode == 0 and "No differences" in same.read_text()


def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    res = gicmig_cli("show", "-o", "fixtures/v1/busy.json", "fixtures/v1/busy.json")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is the input" in res.stderr
    res = gicmig_cli("diff", "--format", "html", "-o", "fixtures/v1/busy.json",
                     "fixtures/v1/busy.json", "fixtures/v1/max.json")
    assert res.returncode == 2 and "is an input" in res.stderr
    res = gicmig_cli("show", "--format", "html", "-o", str(tmp_path / "x.html"),
                     "fixtures/v1/invalid/" + sorted(p.name for p in (V1 / "invalid").iterdir())[0])
    assert res.returncode in (1, 2) and res.stderr.count("\n") == 1
    assert not (tmp_path / "x.html").exists()
    res = gicmig_cli("show", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and "IO-READ" in res.stderr


def test_diff_output_file_holds_what_stdout_would(tmp_path: Path) -> None:
    out = tmp_path / "d.txt"
    res = gicmig_cli("diff", "--registers", "-o", str(out), "fixtures/v1/busy.json",
                     "fixtures/v1/max.json")
    assert res.returncode == 1 and res.stdout == ""
    std = gicmig_cli("diff", "--registers", "fixtures/v1/busy.json", "fixtures/v1/max.json")
    assert out.read_text() == std.stdout and std.stdout.count("\n") == 5922
