"""Generated protobuf modules of schema v1 (built from proto/gicmig/v1 at install)."""
