"""Real QEMU 7.2 (`qemu-system-aarch64`) for gicmig's tests: see harness/qemu/driver.py."""
