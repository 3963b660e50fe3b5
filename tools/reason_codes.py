"""Write docs/reason-codes.md from gicmig.errors.REASONS (the one table of codes).

python tools/reason_codes.py            # rewrite the file
python tools/reason_codes.py --check    # exit 1 if the file is stale (CI)
"""

from __future__ import annotations

import sys
from pathlib import Path

from gicmig.cli._run import EXIT_STATUS
from gicmig.errors import REASONS

OUT = Path(__file__).resolve().parents[1] / "docs" / "reason-codes.md"


def render() -> str:
    lines = ["# Reason codes", "",
             "Every error and violation gicmig reports carries one of these stable codes.",
             "Generated from `gicmig/errors.py` by `tools/reason_codes.py`; do not edit.", "",
             "The category says what kind of failure a code is (`GicmigError.category`);",
             "the CLI exits with the status of its category (`gicmig.cli._run.EXIT_STATUS`):",
             "", "| category | exit |", "| --- | --- |"]
    lines += [f"| {cat} | {status} |" for cat, status in EXIT_STATUS.items()]
    lines += ["", "| code | category | exit | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r.code}` | {r.category} | {EXIT_STATUS[r.category]} | {r.summary} |"
              for r in REASONS.values()]
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python tools/reason_codes.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
