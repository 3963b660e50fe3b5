"""Self-contained HTML pages of a state and of a diff (`gicmig show|diff --format html`).

>>> import gicmig
>>> page = state_page(gicmig.load("fixtures/v1/busy.json"), "busy.json")
>>> page.startswith("<!DOCTYPE html>")
True
"""

from gicmig.html.diffpage import diff_page
from gicmig.html.state import state_page

__all__ = ["diff_page", "state_page"]
