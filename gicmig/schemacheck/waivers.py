"""Waivers: reviewed, in-repo approvals of intentional schema breaks.

    {"waivers": [
      {"rule": "FIELD_SAME_NAME",
       "element": "gicmig.v1.GicState.enable_grp0",
       "reason": "renamed before any release shipped it (PR #12)",
       "expires": "2027-01-31"}
    ]}

`element` is the full name of the element of the *previous* schema the finding concerns
(`gicmig schema check` prints it with each finding); `expires` is optional and inclusive.
A waived finding is reported as waived and does not fail the check; an expired waiver
waives nothing and fails the check itself, so that a temporary approval cannot outlive
its review.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from typing import Any

from gicmig.errors import GicmigError
from gicmig.files import read_bytes
from gicmig.limits import loads_json
from gicmig.schemacheck.rules import WIRE_JSON_RULES

_KEYS = {"rule", "element", "reason", "expires"}


@dataclass(frozen=True)
class Waiver:
    index: int  # position in the file, 1-based, for messages
    rule: str
    element: str
    reason: str
    expires: datetime.date | None

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"waiver {self.index} ({self.rule} {self.element}{until})"


def load(path: str | os.PathLike[str]) -> list[Waiver]:
    data = read_bytes(path)  # bounded
    try:
        doc = loads_json(data)
    except (ValueError, RecursionError) as exc:
        raise GicmigError("SCHEMA-WAIVER-INVALID", f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"waivers"} or \
            not isinstance(doc["waivers"], list):
        raise GicmigError("SCHEMA-WAIVER-INVALID",
                          f'{path}: expected {{"waivers": [...]}} and nothing else')
    return [_waiver(path, i, item) for i, item in enumerate(doc["waivers"], start=1)]


def _waiver(path: str | os.PathLike[str], index: int, item: Any) -> Waiver:
    def bad(why: str) -> GicmigError:
        return GicmigError("SCHEMA-WAIVER-INVALID", f"{path}: waiver {index}: {why}")

    if not isinstance(item, dict):
        raise bad("not an object")
    extra = set(item) - _KEYS
    if extra:
        raise bad(f"unknown keys {sorted(extra)} (allowed: {sorted(_KEYS)})")
    for key in ("rule", "element", "reason"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise bad(f'"{key}" must be a non-empty string')
    if item["rule"] not in WIRE_JSON_RULES:
        raise bad(f'rule "{item["rule"]}" is not a WIRE_JSON rule')
    expires = None
    if "expires" in item:
        try:  # a string, as written: not 20240101, which fromisoformat would also take
            if not isinstance(item["expires"], str) or \
                    not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", item["expires"]):
                raise ValueError(item["expires"])
            expires = datetime.date.fromisoformat(item["expires"])
        except ValueError:
            raise bad(f'"expires" {item["expires"]!r} is not a YYYY-MM-DD date') from None
    return Waiver(index, item["rule"], item["element"], item["reason"].strip(), expires)


def match(waivers: list[Waiver], rule: str, element: str,
          today: datetime.date) -> Waiver | None:
    """The live waiver for this finding, if any (expired ones never match)."""
    for w in waivers:
        if w.rule == rule and w.element == element and not w.expired(today):
            return w
    return None
