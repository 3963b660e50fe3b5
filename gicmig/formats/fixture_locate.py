"""Where in a JSON fixture's text a place lives, so reports can say `path:line:col`.

Places are the ones validators and the JSON parser name (`cpu1 irq 27 (PPI 11)`,
`irq 40 (SPI 8)`, `cpu0 gicc.pmr`, `config.num_irqs`, `spis.40.colour`, ...). The search
follows the keys in order through the text, so it works on any layout of the fixture;
when a place cannot be found the answer is None and the report names the place only.
A CPU (`cpus.1`, `cpus[1]`, `cpu1 ...`) is the entry at that index of the "cpus" list,
found by walking the list, not by a `"cpu": 1` key: a place under it (`cpus.1.cpu`) is then
searched from that entry's start, so it never lands in the next entry.
"""

from __future__ import annotations

import re

_IRQ = re.compile(r"^(?:cpu(\d+) )?irq (\d+) ")
_REG = re.compile(r"^cpu(\d+) (gicc|gich)\.([a-z_]+?)(\d*)$")


def locate(text: str, place: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the JSON key that holds `place`, or None."""
    return _find(text, _keys(place))


def _keys(place: str) -> list[str]:
    m = _IRQ.match(place)
    if m:
        cpu, irq = m.groups()
        return ["cpus", f"[{cpu}]", "irqs", irq] if cpu is not None else ["spis", irq]
    m = _REG.match(place.split(":")[0])
    if m:
        cpu, frame, reg, _ = m.groups()
        return ["cpus", f"[{cpu}]", "interface" if frame == "gicc" else "virtual", reg]
    parts = [p for p in re.split(r"[.\[\]]", place.split(":")[0]) if p]
    keys: list[str] = []
    for i, p in enumerate(parts):
        if p.isdigit() and i and parts[i - 1] == "cpus":
            keys.append(f"[{p}]")
        elif not (p.isdigit() and keys and keys[-1].startswith("[")):
            keys.append(p)
    return keys


def _find(text: str, keys: list[str]) -> tuple[int, int] | None:
    pos, found = 0, None
    for key in keys:
        if key.startswith("["):
            at = _element(text, pos, int(key[1:-1]))
            if at is None:
                break
            found, pos = at, at
            continue
        m = re.compile(rf'"{re.escape(key)}"\s*:').search(text, pos)
        if m is None:
            break
        found, pos = m.start(), m.end()
    if found is None:
        return None
    line = text.count("\n", 0, found) + 1
    return line, found - (text.rfind("\n", 0, found) + 1) + 1


_ARRAY = re.compile(r"\s*\[")
_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _element(text: str, pos: int, index: int) -> int | None:
    """Offset of the `index`-th element of the JSON array that starts at `pos` (after its
    key's colon), or None when there is no array there or it has fewer elements."""
    m = _ARRAY.match(text, pos)
    if m is None:
        return None
    at = m.end() if index == 0 else _after_commas(text, m.end(), index)
    if at is None:
        return None
    while text[at:at + 1].isspace():
        at += 1
    return at if text[at:at + 1] not in ("]", "") else None


def _after_commas(text: str, at: int, commas: int) -> int | None:
    """Offset just after the `commas`-th comma of the array whose elements start at `at`
    (commas inside strings, objects and nested arrays do not count), or None when the
    array ends first."""
    depth = 0
    for tok in _SCAN.finditer(text, at):
        t = tok.group()
        depth += (t in ("[", "{")) - (t in ("]", "}"))
        if depth < 0:
            return None  # the array ended first
        if t == "," and depth == 0:
            commas -= 1
            if commas == 0:
                return tok.end()
    return None
