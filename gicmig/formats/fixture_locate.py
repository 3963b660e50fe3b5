"""Where in a JSON fixture's text a place lives, so reports can say `path:line:col`.

Places are the ones validators and the JSON parser name (`cpu1 irq 27 (PPI 11)`,
`irq 40 (SPI 8)`, `cpu0 gicc.pmr`, `config.num_irqs`, `spis.40.colour`, ...). The search
follows the keys in order through the text, so it works on any layout of the fixture;
when a place cannot be found the answer is None and the report names the place only.
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
        return [f"cpu={cpu}", "irqs", irq] if cpu is not None else ["spis", irq]
    m = _REG.match(place.split(":")[0])
    if m:
        cpu, frame, reg, _ = m.groups()
        return [f"cpu={cpu}", "interface" if frame == "gicc" else "virtual", reg]
    parts = [p for p in re.split(r"[.\[\]]", place.split(":")[0]) if p]
    keys: list[str] = []
    for i, p in enumerate(parts):
        if p.isdigit() and i and parts[i - 1] == "cpus":
            keys[-1] = f"cpu={p}"
        elif not (p.isdigit() and keys and keys[-1].startswith("cpu=")):
            keys.append(p)
    return keys


def _find(text: str, keys: list[str]) -> tuple[int, int] | None:
    pos, found = 0, None
    for key in keys:
        if key.startswith("cpu="):
            pattern = rf'"cpu"\s*:\s*{re.escape(key[4:])}\b'
        else:
            pattern = rf'"{re.escape(key)}"\s*:'
        m = re.compile(pattern).search(text, pos)
        if m is None:
            break
        found, pos = m.start(), m.end()
    if found is None:
        return None
    line = text.count("\n", 0, found) + 1
    return line, found - (text.rfind("\n", 0, found) + 1) + 1
