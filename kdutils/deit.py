"""DeiT: a student with class and distillation tokens, its objectives, head ensembling, token similarity."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .losses import Objective, check_alpha, deit_loss

Heads = Literal["class", "distill", "both"]
HEADS: tuple[Heads, ...] = ("class", "distill", "both")


def combine_heads(class_logits: Tensor, dist_logits: Tensor, heads: Heads) -> Tensor:
    """One head's logits, or for ``both`` the log of the average of the two heads' softmaxes (DeiT's late fusion)."""
    if heads == "class":
        return class_logits
    if heads == "distill":
        return dist_logits
    if heads == "both":
        return ((class_logits.softmax(1) + dist_logits.softmax(1)) / 2).log()
    raise ValueError(f"unknown heads {heads!r}; choose one of {HEADS}")


class DistilledViT(nn.Module):
    """timm's ``VisionTransformerDistilled`` with explicit heads: training returns ``(class,
    distill)`` logits, evaluation returns the logits of ``heads`` (see :func:`combine_heads`)."""

    def __init__(self, vit: nn.Module, heads: Heads = "both") -> None:
        super().__init__()
        if not hasattr(vit, "head_dist"):
            raise ValueError(
                "DistilledViT needs a model with a distillation token and head "
                "(timm VisionTransformerDistilled)"
            )
        if heads not in HEADS:
            raise ValueError(f"unknown heads {heads!r}; choose one of {HEADS}")
        self.vit, self.heads = vit, heads

    def both_heads(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The class head's and the distillation head's logits, from one forward pass."""
        tokens = self.vit.forward_features(x)
        class_logits = self.vit.head(self.vit.head_drop(tokens[:, 0]))
        return class_logits, self.vit.head_dist(self.vit.head_drop(tokens[:, 1]))

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        class_logits, dist_logits = self.both_heads(x)
        if self.training:
            return class_logits, dist_logits
        return combine_heads(class_logits, dist_logits, self.heads)


def deit_objective(
    kind: str, alpha: float = 0.5, tau: float = 1.0, soft_reduction: str = "numel"
) -> Objective:
    """A fit objective for DeiT students: ``none``, ``soft``, ``hard`` (kdutils.losses.deit_loss) on the class and
    distillation heads (or on the one head of a plain ViT), or ``two-class``: both heads trained on the labels,
    the paper's control with two class tokens. ``soft_reduction``: DeiT's ``numel`` or ``batchmean``."""
    if kind == "two-class":
        alpha = check_alpha(alpha)

        def two_class(out, targets: Tensor, teacher_logits: Tensor | None) -> Tensor:
            class_logits, second = out
            first = F.cross_entropy(class_logits, targets)
            return (1 - alpha) * first + alpha * F.cross_entropy(second, targets)

        return two_class
    # settings are checked now, not at the first training step
    settings = (kind, alpha, tau, soft_reduction)
    one, label = torch.zeros(1, 2), torch.zeros(1, dtype=torch.long)
    deit_loss(one, one, label, one, *settings)

    def objective(out, targets: Tensor, teacher_logits: Tensor | None) -> Tensor:
        class_logits, dist_logits = out if isinstance(out, tuple) else (out, out)
        if kind != "none" and teacher_logits is None:
            raise ValueError(
                f"DeiT '{kind}' distillation needs teacher logits: pass teacher= to fit"
            )
        return deit_loss(class_logits, dist_logits, targets, teacher_logits, *settings)

    return objective


@torch.no_grad()
def token_similarity(model: DistilledViT, x: Tensor) -> list[float]:
    """Mean cosine similarity between the class and distillation tokens: at the input (token
    embeddings plus position embeddings) and after every transformer block."""
    vit = model.vit
    was_training = vit.training
    vit.eval()
    tokens, sims = vit.norm_pre(vit._pos_embed(vit.patch_embed(x))), []
    for block in [nn.Identity(), *vit.blocks]:
        tokens = block(tokens)
        sims.append(
            F.cosine_similarity(tokens[:, 0], tokens[:, 1], dim=1).mean().item()
        )
    vit.train(was_training)
    return sims
