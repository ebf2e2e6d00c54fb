"""Seed 002, model side: a mixture of experts that each compute in their own geometry, routed sparsely.

Importing this module registers the "geometric_moe" FFN part, the "slots" memory part and the `mgm-*`
presets; the rest of the family is declared in `geolm.systems`.
"""

from geolm.experts import presets
from geolm.experts.experts import EXPERT_GROUPS, ExpertGroup
from geolm.experts.memory import SlotMemoryOptions, WorkingMemory
from geolm.experts.moe import GeometricMoE
from geolm.experts.options import GeometricMoEOptions

__all__ = [
    "EXPERT_GROUPS",
    "ExpertGroup",
    "GeometricMoE",
    "GeometricMoEOptions",
    "SlotMemoryOptions",
    "WorkingMemory",
    "presets",
]
