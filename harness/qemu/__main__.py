"""`python3 -m harness.qemu`: build the read-back guest into the cache and print its path
(CI runs this; the tests build it on first use otherwise)."""

from __future__ import annotations

import sys

from harness.qemu.driver import QemuError, guest_elf

if __name__ == "__main__":
    try:
        print(guest_elf())
    except (QemuError, OSError) as e:
        sys.exit(f"harness.qemu: {e}")
