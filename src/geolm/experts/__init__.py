"""Seed 002, model side: a mixture of experts that each compute in their own geometry, routed sparsely.

Importing this module registers the "geometric_moe" FFN part, the "slots" memory part, the `mgm-*` presets
and the parameter-count component "experts" (the router counts as "router").
"""

from geolm.experts import presets
from geolm.experts.experts import EXPERT_GROUPS, ExpertGroup
from geolm.experts.memory import SlotMemoryOptions, WorkingMemory
from geolm.experts.moe import GeometricMoE
from geolm.experts.options import GeometricMoEOptions
from geolm.params import COMPONENT_RULES

# Ahead of the generic ".mlp." rule, which would otherwise claim them (first match wins).
COMPONENT_RULES[:0] = [(r"\.mlp\.gate\.", "router"), (r"\.mlp\.groups\.", "experts")]

__all__ = [
    "EXPERT_GROUPS",
    "ExpertGroup",
    "GeometricMoE",
    "GeometricMoEOptions",
    "SlotMemoryOptions",
    "WorkingMemory",
    "presets",
]
