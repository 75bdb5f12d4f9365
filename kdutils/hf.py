"""Hugging Face route (extra ``kdutils[hf]``): a distillation ``Trainer``, student factory, and the guide's beans setup.

The gpu profile of the ViT -> MobileNetV2 chapter runs the Hugging Face guide's recipe with these:
``merve/beans-vit-224`` as teacher, a randomly initialised ``MobileNetV2ForImageClassification`` as
student, ``DistillationTrainer`` (kdutils' loss inside ``Trainer.compute_loss``), TensorBoard logs.
Everything that needs the hub is behind :func:`require_hub`, which fails with a clear message offline.
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
GUIDE_TEACHER = "merve/beans-vit-224"


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


def require_hub(what: str) -> None:
    """Raise :class:`HubUnavailableError` naming ``what`` and the offline profile to use instead."""
    if not hub_reachable():
        raise HubUnavailableError(
            f"{what} needs the Hugging Face Hub ({HUB_HOST}), which cannot be reached from here. "
            "Run this chapter with profile='cpu' (Fashion-MNIST and a ViT teacher trained in the notebook, "
            "no network needed), or connect to the network and try the gpu profile again."
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


def load_guide_setup(teacher_name: str = GUIDE_TEACHER) -> dict[str, Any]:
    """The guide's data and teacher from the hub: beans processed by the teacher's image processor."""
    require_hub(f"the guide's setup (beans and {teacher_name})")
    from datasets import load_dataset
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    dataset = load_dataset("beans")
    processor = AutoImageProcessor.from_pretrained(teacher_name)

    def process(examples: dict) -> dict:
        return processor(examples["image"])

    processed = dataset.map(process, batched=True).remove_columns(
        ["image", "image_file_path"]
    )
    num_labels = len(dataset["train"].features["labels"].names)
    teacher = AutoModelForImageClassification.from_pretrained(
        teacher_name, num_labels=num_labels, ignore_mismatched_sizes=True
    )
    return {
        "datasets": processed,
        "processor": processor,
        "teacher": teacher,
        "num_labels": num_labels,
    }


def training_arguments(
    output_dir: str, epochs: int, seed: int, on_gpu: bool, **overrides: Any
):
    """The guide's ``TrainingArguments`` (30 epochs, evaluation and best model by accuracy, TensorBoard), hub push off.

    ``on_gpu``: fp16 mixed precision, four loader workers and pinned memory (the guide's GPU setting).
    """
    from transformers import TrainingArguments

    settings = dict(
        output_dir=output_dir,
        num_train_epochs=epochs,
        fp16=on_gpu,
        logging_strategy="epoch",
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        report_to="tensorboard",  # logs under output_dir/runs
        save_total_limit=1,
        seed=seed,
        push_to_hub=False,
        # on a GPU, decode and augment images in worker processes into pinned memory; on 2 CPU
        # cores, workers would only compete with the training for the same cores
        dataloader_num_workers=4 if on_gpu else 0,
        dataloader_pin_memory=on_gpu,
    )
    settings.update(overrides)
    return TrainingArguments(**settings)


def run_guide(
    setup: dict[str, Any],
    output_dir: str,
    seed: int,
    epochs: int = 30,
    temperature: float = 5.0,
    alpha: float = 0.5,
    distill: bool = True,
    **overrides: Any,
) -> dict[str, float]:
    """Train the MobileNetV2 student (distilled or alone, same settings) and return its test metrics."""
    from transformers import DefaultDataCollator, set_seed

    set_seed(seed)
    student = mobilenet_v2_student(setup["num_labels"])
    args = training_arguments(
        output_dir, epochs, seed, torch.cuda.is_available(), **overrides
    )
    common = dict(
        model=student,
        args=args,
        train_dataset=setup["datasets"]["train"],
        eval_dataset=setup["datasets"]["validation"],
        data_collator=DefaultDataCollator(),
        processing_class=setup["processor"],
        compute_metrics=compute_metrics,
    )
    trainer = (
        DistillationTrainer(
            **common,
            teacher_model=setup["teacher"],
            temperature=temperature,
            alpha=alpha,
        )
        if distill
        else Trainer(**common)
    )
    trainer.train()
    metrics = trainer.evaluate(setup["datasets"]["test"], metric_key_prefix="test")
    return {"accuracy": metrics["test_accuracy"], "macro_f1": metrics["test_macro_f1"]}
