"""Drivers that run gicmig against real implementations (not part of the installed package)."""
