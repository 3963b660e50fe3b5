"""The semantic diff of two states, in GIC terms."""
