"""kdutils: the small library behind the knowledge-distillation book.

The names most programs need are importable from here: ``kdutils.fit``, ``kdutils.distillation_loss``,
``kdutils.TeacherCache``, ...; each lives in the module that owns its concern.
"""

__version__ = "0.1.0"

from .augment import Augmentation, view_bank  # noqa: E402
from .cache import TeacherCache  # noqa: E402
from .data import Split, Splits, load_splits, resolve_dataset  # noqa: E402
from .evaluate import (  # noqa: E402
    classification_metrics,
    logits_of,
    predict_dataset,
    predict_logits,
)
from .folders import image_folder_datasets  # noqa: E402
from .losses import (  # noqa: E402
    deit_loss,
    distillation_loss,
    hard_distillation_loss,
    kd_objective,
    logit_matching_loss,
    soft_kd_loss,
)
from .models import load_classifier, torchvision_classifier  # noqa: E402
from .runtime import pick_device, seed_everything  # noqa: E402
from .train import History, fit  # noqa: E402

__all__ = [
    "Augmentation",
    "History",
    "Split",
    "Splits",
    "TeacherCache",
    "classification_metrics",
    "deit_loss",
    "distillation_loss",
    "fit",
    "hard_distillation_loss",
    "image_folder_datasets",
    "kd_objective",
    "load_classifier",
    "load_splits",
    "logit_matching_loss",
    "logits_of",
    "pick_device",
    "predict_dataset",
    "predict_logits",
    "resolve_dataset",
    "seed_everything",
    "soft_kd_loss",
    "torchvision_classifier",
    "view_bank",
]
