"""The GICv2 interrupt ID space and the active-priority granularity gicmig keeps.

SGIs are IDs 0-15 and PPIs 16-31, banked per CPU interface; SPIs start at 32; 1020-1023
are special (spurious) IDs. Active priorities are kept as 128 levels, the finest any
source uses (a group priority with the binary point at its minimum, 7 bits).
"""

NUM_SGIS = 16
NUM_PRIVATE = 32
SPECIAL_IDS = range(1020, 1024)
APR_LEVELS = 128
SGI_MASK = (1 << NUM_SGIS) - 1  # the SGIs of a 32-bit bank (always edge-triggered)
MAX_CPUS = 8  # CPU interfaces a GICv2 has at most (8-bit CPU target and source masks)
