"""Benchmark: training throughput (images/s) of every chapter's models on this CPU, against the matmul roofline.

The roofline is the float32 matrix-multiply rate measured in this same run; each model's achieved
rate counts 3x its forward FLOPs per image (forward plus backward) and is printed as a fraction of it.

    .venv/bin/python bench/throughput.py
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from kdbook.baseline import BLOG_TEACHER
from kdbook.fashion import DEIT_STUDENT, MOBILENET_STUDENT
from kdbook.mnist import BLOG_STUDENT, HINTON_STUDENT
from kdbook.models import small_convnet, vit_small_images
from kdbook.teachers import VIT_TEACHER
from kdutils.evaluate import count_flops
from kdutils.models import mlp, mobilenet_v2_small_images


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    tic = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - tic) / 1e9


def train_images_per_second(
    model: torch.nn.Module, batch: torch.Tensor, channels_last: bool, steps: int = 10
) -> float:
    if channels_last:
        model, batch = (
            model.to(memory_format=torch.channels_last),
            batch.contiguous(memory_format=torch.channels_last),
        )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    labels = torch.randint(0, 10, (len(batch),))
    model.train()
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            tic = time.perf_counter()
        loss = F.cross_entropy(model(batch), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * len(batch) / (time.perf_counter() - tic)


def main() -> None:
    roofline = matmul_gflops()
    print(
        f"float32 matmul roofline on {torch.get_num_threads()} threads: {roofline:.1f} GFLOP/s"
    )
    image = (1, 28, 28)
    models = {
        "blog teacher MLP 1200-1200 (ch. 2 benchmark)": (
            mlp(784, BLOG_TEACHER, 10, 0.5),
            False,
        ),
        "MNIST student MLP 800-800 (ch. 2-3)": (mlp(784, HINTON_STUDENT, 10), False),
        "MNIST student MLP 20-20 (ch. 2-3)": (mlp(784, BLOG_STUDENT, 10), False),
        "ViT teacher (ch. 4)": (vit_small_images(28, 1, 10, **VIT_TEACHER), False),
        "MobileNetV2 0.35, all stages": (mobilenet_v2_small_images(10, 1, 0.35), True),
        "MobileNetV2 0.35, short (ch. 4 student)": (
            mobilenet_v2_small_images(10, 1, **MOBILENET_STUDENT),
            True,
        ),
        "CNN teacher (ch. 4-5)": (small_convnet(1, 10, width=16), True),
        "DeiT student (ch. 5)": (
            vit_small_images(28, 1, 10, distilled=True, **DEIT_STUDENT),
            False,
        ),
    }
    print(f"{'model':<40} {'images/s':>9} {'GFLOP/s':>8} {'of roofline':>12}")
    for name, (model, channels_last) in models.items():
        flops = 3 * count_flops(model, torch.zeros(1, *image))
        rate = train_images_per_second(model, torch.rand(128, *image), channels_last)
        achieved = rate * flops / 1e9
        print(f"{name:<40} {rate:>9.0f} {achieved:>8.1f} {achieved / roofline:>11.1%}")


if __name__ == "__main__":
    main()
