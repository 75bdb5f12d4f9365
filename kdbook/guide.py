"""The Hugging Face guide's experiment (online only): beans, the ``merve/beans-vit-224`` teacher, ``Trainer``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Trainer

from kdutils.evaluate import accuracy, macro_f1
from kdutils.hf import HUB_HOST, DistillationTrainer, hub_reachable

GUIDE_TEACHER = "merve/beans-vit-224"


class HubUnavailableError(RuntimeError):
    """The Hugging Face Hub cannot be reached (offline machine, HF_HUB_OFFLINE set, or no network)."""


def require_hub(
    what: str, fix: str = "connect to the network, or use a model and data on disk"
) -> None:
    """Raise :class:`HubUnavailableError` naming ``what`` and ``fix`` when the hub is out of reach."""
    if not hub_reachable():
        raise HubUnavailableError(
            f"{what} needs the Hugging Face Hub ({HUB_HOST}), which cannot be reached from "
            f"here: {fix}"
        )


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
    require_hub(
        f"the guide's setup (beans and {teacher_name})",
        "run the chapter with profile='cpu' (Fashion-MNIST and a ViT teacher trained in the "
        "notebook, no network needed), or connect to the network",
    )
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
