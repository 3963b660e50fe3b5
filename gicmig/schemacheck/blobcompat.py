"""Data-aware compatibility (can schema revision N hold *this* state?) lives in the format
layer, `gicmig.formats.revisions`, since the codec needs it; this name stays for the
documented library path."""

from gicmig.formats.locked import field_numbers
from gicmig.formats.revisions import (
    LostField,
    as_revision,
    check_revision,
    check_written_revision,
    lost_fields,
)

__all__ = ["LostField", "as_revision", "check_revision", "check_written_revision",
           "field_numbers", "lost_fields"]
