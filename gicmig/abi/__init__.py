"""Implementation semantics that several views share (KVM's vgic-v2 device ABI)."""
