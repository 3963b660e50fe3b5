"""Schema revisions and compatibility.

* `sources`: a schema from a proto folder, a descriptor set or a lock.
* `locks`: the locked schema revisions (descriptor sets committed with the package).
* `rules`: buf's WIRE_JSON breaking-change rules over two descriptor sets.
* `waivers`: reviewed, in-repo approvals of intentional breaks.
* `blobcompat`: can an older revision read *this* blob without losing anything?
"""

from __future__ import annotations
