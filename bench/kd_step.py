"""Benchmark: what a distillation epoch costs over training alone, for the book's 20-20 student.

Times fit's epochs on one thread (CPU time of the training thread, the fastest of ``--repeats``,
taken in turn) with the labels alone, with ``kd_objective``, with another autograd form of the
same loss and with its soft term's gradient written out in closed form (a ``torch.autograd.Function``
beside the loss, the one place issue 26 would let such a gradient live), and prints each as a ratio
to training alone: the engineering claim of chapter 2.

    .venv/bin/python bench/kd_step.py --repeats 15
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from kdbook import mnist
from kdbook.profiles import get_profile
from kdutils.cache import TeacherCache
from kdutils.data import load_splits
from kdutils.losses import cross_entropy_objective, entropy, kd_objective
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import fit

ALPHA, T = 0.7, 7.0


def soft_target_form(s: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The same loss and gradient, its soft term as PyTorch's cross-entropy with probability targets."""
    soft = F.cross_entropy(s / T, F.softmax(t / T, dim=1)) - entropy(t, T).mean()
    return (1 - ALPHA) * F.cross_entropy(s, y) + ALPHA * T * T * soft


class ClosedFormSoftKL(torch.autograd.Function):
    """``T^2 KL(softmax(t/T) || softmax(s/T))``, batch mean, whose gradient in ``s`` is
    ``T (softmax(s/T) - softmax(t/T)) / batch``: no autograd graph inside."""

    @staticmethod
    def forward(ctx, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        log_q, log_p = F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1)
        ctx.save_for_backward(log_q, log_p)
        kl = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
        return kl * (T * T)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        log_q, log_p = ctx.saved_tensors
        return grad * (log_q.exp() - log_p.exp()) * (T / len(log_q)), None


def closed_form(s: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``kd_objective``'s loss with the soft term's gradient in closed form."""
    return (1 - ALPHA) * F.cross_entropy(s, y) + ALPHA * ClosedFormSoftKL.apply(s, t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = get_profile("cpu")
    splits = load_splits(mnist.dataset_for(cfg), per_class_limit=cfg.per_class_limit)
    seed_everything(0)
    teacher = mlp(784, [1200, 1200], 10)
    fit(teacher, splits.train, splits.val, epochs=1, lr=1e-3, progress=False)
    cache = TeacherCache(teacher, splits.train.x)
    objectives = {
        "alone": cross_entropy_objective,
        "kd_objective": kd_objective(ALPHA, T),
        "soft-target cross-entropy form": soft_target_form,
        "closed-form soft gradient": closed_form,
    }
    seconds: dict[str, list[float]] = {name: [] for name in objectives}
    for _ in range(args.repeats):
        for name, objective in objectives.items():
            seed_everything(0)
            student = mlp(784, mnist.BLOG_STUDENT, 10)
            teacher_arg = None if name == "alone" else cache
            history = fit(
                student,
                splits.train,
                splits.val,
                epochs=1,
                lr=1e-3,
                batch_size=64,
                objective=objective,
                teacher=teacher_arg,
                progress=False,
            )
            seconds[name].append(history.epochs[0]["cpu_seconds"])
    alone = min(seconds["alone"])
    print(f"{len(splits.train)} images, batch 64, 1 thread, fastest of {args.repeats}")
    for name, values in seconds.items():
        print(
            f"{name:32s} {1000 * min(values):7.1f} ms/epoch  {min(values) / alone:.2f}x"
        )


if __name__ == "__main__":
    main()
