"""The one trainer of geolm: curricula as data, atomic checkpoints with exact resume, on accelerate."""

from geolm.inference.loading import resolve_checkpoint
from geolm.training.args import TrainArgs
from geolm.training.curriculum import Curriculum, Phase
from geolm.training.losses import LOSSES, LossFn
from geolm.training.schedule import lr_factor
from geolm.training.trainer import TrainResult, train

__all__ = [
    "LOSSES",
    "Curriculum",
    "LossFn",
    "Phase",
    "TrainArgs",
    "TrainResult",
    "lr_factor",
    "resolve_checkpoint",
    "train",
]
