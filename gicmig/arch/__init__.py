"""GICv2 architecture facts: register tables, bit primitives, names, GICH encodings.

No I/O and no protobuf here: everything is plain integers and bytes.
"""
