"""The QEMU view: the arm_gic section of QEMU 7.2 migration streams."""
