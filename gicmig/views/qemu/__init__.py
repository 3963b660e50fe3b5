"""The QEMU view: the arm_gic section of QEMU 7.2 migration streams, read and written.

`stream` walks a stream to the section, `raw` holds its fields (one table for both
directions), `decode`, `tcg` and `kvmgic` turn it into canonical state (`convert`), `accel`
tells which device model wrote it, `write` writes a state into a copy of a stream, and
`model` holds what QEMU's two device models are.
"""
