"""Hugging Face route (extra ``kdutils[hf]``): a ``Trainer`` with kdutils' distillation loss, and whether the hub answers."""

from __future__ import annotations

import os
import socket
from typing import Any

import torch
from torch import nn
from transformers import Trainer

from .losses import check_alpha, check_temperature, distillation_loss

HUB_HOST = "huggingface.co"


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face Hub answers a TCP connection and offline mode is not forced."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


class DistillationTrainer(Trainer):
    """``Trainer`` whose loss is kdutils' ``(1 - alpha) * CE + alpha * T^2 KL`` against a frozen
    teacher.

    Construct it like ``Trainer`` (``args=`` — the guide's ``training_args=`` is not a Trainer
    argument), plus ``teacher_model``, ``temperature`` and ``alpha`` (the guide's ``lambda_param``).
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
        self.temperature = check_temperature(temperature)
        self.alpha = check_alpha(alpha)
        self.teacher = teacher_model.to(self.args.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        student_output = model(**inputs)
        with torch.no_grad():
            teacher_logits = self.teacher(pixel_values=inputs["pixel_values"]).logits
        loss = distillation_loss(
            student_output.logits,
            inputs["labels"],
            teacher_logits,
            self.alpha,
            self.temperature,
        )
        return (loss, student_output) if return_outputs else loss
