"""The KVM view: GICv2 device-ABI register dumps and the ordered writes that restore a state."""
