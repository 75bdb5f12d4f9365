"""Evaluation: logits over a split or a dataset, accuracy, macro-F1, teacher agreement, fidelity and calibration."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .data import Split
from .losses import soft_kd_loss


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def logits_of(output: object) -> Tensor:
    """A classifier's logits, whatever its output: a tensor, an object with ``.logits`` (Hugging
    Face), or a mapping with a ``"logits"`` entry."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    logits = getattr(output, "logits", None)
    if isinstance(logits, Tensor):
        return logits
    raise TypeError(
        f"cannot find logits in a model output of type {type(output).__name__}; return a "
        "tensor, an object with .logits, or a dict with a 'logits' entry"
    )


def predict_logits(
    model: nn.Module,
    x: Tensor,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> Tensor:
    """Logits of ``model`` on every row of ``x``, in eval mode, returned on the CPU.

    ``device``: where the batches go; by default the device the model's weights are on. Batches of
    256 keep a small convnet's activations in the CPU's cache."""
    batches = [(x[i : i + batch_size], None) for i in range(0, len(x), batch_size)]
    return predict_dataset(model, batches, device=device, labels=False)


@torch.no_grad()
def predict_dataset(
    model: nn.Module,
    data: Dataset | DataLoader,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    labels: bool = True,
) -> tuple[Tensor, Tensor]:
    """Logits of ``model`` on every image of a Dataset of ``(image, label)`` pairs (or of a
    DataLoader, batched as it batches), in eval mode, and the labels, both on the CPU."""
    from .loaders import as_pair, check_batch

    loader = (
        data if isinstance(data, (DataLoader, list)) else DataLoader(data, batch_size)
    )
    device, was_training = device or model_device(model), model.training
    model.eval()
    logits, ys = [], []
    for batch in loader:
        x, y = as_pair(batch, "the dataset")
        if labels:
            check_batch("the dataset", x, y)
            ys.append(y)
        logits.append(logits_of(model(x.to(device))).float().cpu())
    model.train(was_training)
    return (torch.cat(logits), torch.cat(ys)) if labels else torch.cat(logits)


def predict(
    model: nn.Module, data: object, device: str | torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """``(logits, labels)`` of ``model`` on a :class:`~kdutils.data.Split`, a Dataset of ``(image,
    label)`` pairs or a DataLoader, on the CPU."""
    if isinstance(data, Split):
        return predict_logits(model, data.x, device=device), data.y
    return predict_dataset(model, data, device=device)


def accuracy(logits: Tensor, targets: Tensor) -> float:
    """Fraction of rows whose argmax equals the target."""
    return (logits.argmax(dim=1) == targets).float().mean().item()


def macro_f1(logits: Tensor, targets: Tensor, num_classes: int | None = None) -> float:
    """F1 score averaged over classes (each class counts equally; a class never seen nor predicted is skipped)."""
    pred, k = logits.argmax(dim=1), num_classes or logits.shape[1]
    tp = torch.bincount(targets[pred == targets], minlength=k).double()
    # 2 tp / (2 tp + fp + fn), where tp + fp are the predictions of a class, tp + fn its images
    both = (
        torch.bincount(pred, minlength=k) + torch.bincount(targets, minlength=k)
    ).double()
    return (2 * tp[both > 0] / both[both > 0]).mean().item()


def agreement(student_logits: Tensor, teacher_logits: Tensor) -> float:
    """Fraction of rows where student and teacher predict the same class."""
    return accuracy(student_logits, teacher_logits.argmax(dim=1))


def fidelity_metrics(
    student_logits: Tensor, teacher_logits: Tensor, targets: Tensor, bins: int = 15
) -> dict[str, float]:
    """How closely a student matches its teacher, and how well it generalises (Stanton et al. 2021).

    Fidelity: ``agreement`` (top-1, :func:`agreement`) and ``kl`` (KL(teacher || student) at T = 1,
    averaged over images, in nats). Generalisation on ``targets``: ``accuracy``, ``nll`` (mean
    cross-entropy, nats) and ``ece`` (expected calibration error over ``bins`` equal-width bins of
    confidence, torchmetrics' implementation)."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    if student_logits.shape != teacher_logits.shape or len(targets) != len(
        teacher_logits
    ):
        raise ValueError(
            f"student logits {tuple(student_logits.shape)}, teacher logits "
            f"{tuple(teacher_logits.shape)} and targets {tuple(targets.shape)} must "
            "describe the same images and classes"
        )
    student_logits, teacher_logits = student_logits.float(), teacher_logits.float()
    log_p_student = student_logits.log_softmax(dim=1)
    kl = soft_kd_loss(student_logits, teacher_logits, T=1.0)  # KL(teacher || student)
    classes = student_logits.shape[1]
    ece = multiclass_calibration_error(
        log_p_student.exp(), targets, classes, bins, "l1"
    )
    return {
        "agreement": agreement(student_logits, teacher_logits),
        "kl": kl.item(),
        "accuracy": accuracy(student_logits, targets),
        "nll": torch.nn.functional.nll_loss(log_p_student, targets).item(),
        "ece": ece.item(),
    }


def classification_metrics(
    model: nn.Module,
    x: Tensor | Split | Dataset | DataLoader,
    y: Tensor | None = None,
    device: str | torch.device | None = None,
    teacher_logits: Tensor | None = None,
) -> dict:
    """Accuracy, macro-F1, error count and ``correct`` (per image, 0 or 1) of ``model`` on images
    ``x`` with labels ``y``, or on a Split, Dataset or DataLoader of ``(image, label)`` pairs.

    Plain Python values, for ``json.dumps``. The per-image scores are what a claim's interval needs
    to count test-set noise (``kdbook.claims.compare``). With ``teacher_logits`` (the teacher's on
    the same images), also ``agreement`` (top-1, :func:`agreement`) and ``agrees`` (per image, 0 or
    1)."""
    if isinstance(x, Tensor):
        x = Split(x, y)
    return logits_metrics(*predict(model, x, device), teacher_logits)


def logits_metrics(
    logits: Tensor, y: Tensor, teacher_logits: Tensor | None = None
) -> dict:
    """:func:`classification_metrics` from logits already computed (a model run once per image set)."""
    correct = (logits.argmax(dim=1) == y).int()
    metrics = {
        "accuracy": accuracy(logits, y),
        "macro_f1": macro_f1(logits, y),
        "errors": int(len(correct) - correct.sum()),
        "correct": correct.tolist(),
    }
    if teacher_logits is not None:
        agrees = (logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).int()
        metrics["agreement"] = agrees.float().mean().item()
        metrics["agrees"] = agrees.tolist()
    return metrics


def count_flops(model: nn.Module, example: Tensor) -> int:
    """Floating-point operations of one forward pass on ``example`` (PyTorch's FlopCounterMode: 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    model.train(was_training)
    return int(counter.get_total_flops())


@torch.no_grad()
def latency_ms(
    model: nn.Module, example: Tensor, repeats: int = 20, warmup: int = 3
) -> float:
    """Median wall time in milliseconds of a forward pass on ``example`` (eval mode, after warm-up)."""
    import statistics
    import time

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats!r}")
    was_training, times = model.training, []
    model.eval()
    for i in range(warmup + repeats):
        tic = time.perf_counter()
        model(example)
        times += [(time.perf_counter() - tic) * 1000] if i >= warmup else []
    model.train(was_training)
    return statistics.median(times)
