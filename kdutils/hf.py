"""Hugging Face route (extra ``kdutils[hf]``): a distillation ``Trainer``, its metrics, a student factory.

``DistillationTrainer`` puts kdutils' loss inside ``Trainer.compute_loss``; everything that needs
the hub is behind :func:`require_hub`, which fails with a clear message offline.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Trainer

from .evaluate import accuracy, macro_f1
from .losses import check_alpha, check_temperature, distillation_loss

HUB_HOST = "huggingface.co"


class HubUnavailableError(RuntimeError):
    """The Hugging Face Hub cannot be reached (offline machine, HF_HUB_OFFLINE set, or no network)."""


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face Hub answers a TCP connection and offline mode is not forced."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(
    what: str, fix: str = "connect to the network, or use a model and data on disk"
) -> None:
    """Raise :class:`HubUnavailableError` naming ``what`` and ``fix`` when the hub is out of reach."""
    if not hub_reachable():
        raise HubUnavailableError(
            f"{what} needs the Hugging Face Hub ({HUB_HOST}), which cannot be reached from "
            f"here: {fix}"
        )


class DistillationTrainer(Trainer):
    """``Trainer`` whose loss is kdutils' ``(1 - alpha) * CE + alpha * T^2 KL`` against a frozen teacher.

    Construct it like ``Trainer`` (``args=`` — the guide's ``training_args=`` is not a Trainer argument),
    plus ``teacher_model``, ``temperature`` and ``alpha`` (the guide's ``lambda_param``).
    """

    def __init__(
        self,
        *args: Any,
        teacher_model: nn.Module,
        temperature: float = 5.0,
        alpha: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        temperature = check_temperature(temperature)
        alpha = check_alpha(alpha)
        self.teacher = teacher_model.to(self.args.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        labels = inputs["labels"]
        student_output = model(**inputs)
        with torch.no_grad():
            teacher_output = self.teacher(pixel_values=inputs["pixel_values"])
        loss = distillation_loss(
            student_output.logits,
            labels,
            teacher_output.logits,
            self.alpha,
            self.temperature,
        )
        return (loss, student_output) if return_outputs else loss


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """Accuracy and macro-F1 for ``Trainer`` evaluation."""
    logits, labels = eval_pred
    logits_t, labels_t = (
        torch.as_tensor(np.asarray(logits)),
        torch.as_tensor(np.asarray(labels)),
    )
    return {
        "accuracy": accuracy(logits_t, labels_t),
        "macro_f1": macro_f1(logits_t, labels_t),
    }


def mobilenet_v2_student(
    num_labels: int, image_size: int = 224, **config: Any
) -> nn.Module:
    """A randomly initialised ``MobileNetV2ForImageClassification``, as in the guide."""
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    return MobileNetV2ForImageClassification(
        MobileNetV2Config(num_labels=num_labels, image_size=image_size, **config)
    )
