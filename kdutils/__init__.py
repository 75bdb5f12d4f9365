"""kdutils, the library behind the knowledge-distillation book: the names most programs need, from their modules."""

# ruff: noqa: F401 - every import is a re-export, listed in __all__ below
__version__ = "0.1.0"

from .augment import Augmentation, view_bank
from .cache import TeacherCache
from .checkpoints import cached_model
from .data import Split, Splits, load_splits, resolve_dataset
from .evaluate import classification_metrics, logits_of, predict_dataset, predict_logits
from .folders import image_folder_datasets
from .headroom import TeacherCheck, check_teacher
from .losses import (
    deit_loss,
    distillation_loss,
    hard_distillation_loss,
    kd_objective,
    logit_matching_loss,
    soft_kd_loss,
)
from .models import load_classifier, torchvision_classifier
from .runtime import pick_device, seed_everything
from .train import History, fit

__all__ = (
    "Augmentation History Split Splits TeacherCache TeacherCheck cached_model "
    "check_teacher classification_metrics deit_loss distillation_loss fit "
    "hard_distillation_loss image_folder_datasets kd_objective load_classifier "
    "load_splits logit_matching_loss logits_of pick_device predict_dataset "
    "predict_logits resolve_dataset seed_everything soft_kd_loss "
    "torchvision_classifier view_bank"
).split()
