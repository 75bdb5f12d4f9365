"""Benchmark: training throughput of every chapter's model on a GPU, bf16 autocast on and off, against the measured bf16 matmul rate.

Each model trains at the batch size the gpu profile gives it, with a step shaped like
``kdutils.train.fit``'s (AdamW, autocast per step, the loss read back every step); FLOPs per
image are 3x the forward's (``kdutils.evaluate.count_flops``). These models are launch-bound on a
GPU: milliseconds per step, not FLOPs, set the book's time (book/gpu.md's estimate).

    python bench/gpu_throughput.py --out build/gpu-throughput.json
    python bench/gpu_throughput.py --device cpu --steps 3 --out /tmp/t.json   # a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from kdbook.fashion import DEIT_STUDENT, deit_student, mobilenet_student
from kdbook.mnist import BLOG_STUDENT, HINTON_STUDENT
from kdbook.models import small_convnet, vit_small_images
from kdbook.teachers import VIT_TEACHER
from kdutils.data import Split, Splits
from kdutils.evaluate import count_flops
from kdutils.models import mlp


def fake_splits(channels: int = 1, size: int = 28, classes: int = 10) -> Splits:
    """Splits shaped like (Fashion-)MNIST's, for the factories that read shapes from data."""
    split = Split(torch.zeros(classes, channels, size, size), torch.arange(classes))
    return Splits(
        "bench", split, split, split, [str(c) for c in range(classes)], "bench"
    )


# name: (factory, batch size under the gpu profile)
MODELS: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "MLP 20-20 (blog student)": (lambda: mlp(784, list(BLOG_STUDENT), 10), 64),
    "MLP 800-800 (Hinton student)": (lambda: mlp(784, list(HINTON_STUDENT), 10), 128),
    "MLP 1200-1200 (theory teacher)": (lambda: mlp(784, [1200, 1200], 10), 128),
    "convnet teacher (small_convnet 16)": (lambda: small_convnet(1, 10, 16), 512),
    "MobileNetV2 student (chapter 4)": (lambda: mobilenet_student(fake_splits()), 64),
    "ViT teacher (chapter 5)": (
        lambda: vit_small_images(28, 1, 10, **VIT_TEACHER),
        512,
    ),
    "DeiT student, distillation token (chapter 5)": (
        lambda: deit_student(fake_splits(), distilled=True, **DEIT_STUDENT),
        128,
    ),
}


def matmul_rate(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """Measured bf16 matrix-multiply FLOP/s (CUDA events on a GPU; a small float32 one on a CPU)."""
    if device.type != "cuda":
        n, repeats = 512, 3
        a, b = torch.randn(n, n), torch.randn(n, n)
        tic = time.perf_counter()
        for _ in range(repeats):
            a @ b
        return 2 * n**3 * repeats / (time.perf_counter() - tic)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):  # warm-up: cuBLAS picks its kernel
        a @ b
    start, end = (
        torch.cuda.Event(enable_timing=True),
        torch.cuda.Event(enable_timing=True),
    )
    start.record()
    for _ in range(repeats):
        a @ b
    end.record()
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (start.elapsed_time(end) / 1000)


def step_seconds(
    model: nn.Module, batch: int, device: torch.device, bf16: bool, steps: int
) -> float:
    """Seconds per training step, after a warm-up of ``steps // 2 + 1`` steps."""
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)

    def step() -> None:
        cast = (
            torch.autocast(device.type, dtype=torch.bfloat16)
            if bf16
            else contextlib.nullcontext()
        )
        with cast:
            out = model(x)
        logits = (out[0] if isinstance(out, tuple) else out).float()
        loss = F.cross_entropy(logits, y)
        loss.item()  # fit reads every step's loss: one host sync per step
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(steps // 2 + 1):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - tic) / steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per model")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    peak = matmul_rate(device)
    print(
        f"{device}: matmul {peak / 1e12:.1f} TFLOP/s ({'bf16' if device.type == 'cuda' else 'float32'})"
    )
    rows = []
    for name, (factory, batch) in MODELS.items():
        torch.manual_seed(0)
        model = factory()
        flops = 3 * count_flops(model, torch.zeros(1, 1, 28, 28))  # per image, trained
        model.to(device)
        if isinstance(
            model[0] if isinstance(model, nn.Sequential) else None, nn.Conv2d
        ):
            model.to(memory_format=torch.channels_last)
        for bf16 in (True, False):
            seconds = step_seconds(model, batch, device, bf16, args.steps)
            images = batch / seconds
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "bf16": bf16,
                    "ms_per_step": 1000 * seconds,
                    "images_per_s": images,
                    "train_flops_per_image": flops,
                    "fraction_of_matmul": images * flops / peak,
                }
            )
            print(
                f"{name:46s} bf16 {'on ' if bf16 else 'off'}  batch {batch:4d}  "
                f"{1000 * seconds:7.2f} ms/step  {images:10.0f} images/s  "
                f"{100 * images * flops / peak:6.2f}% of matmul"
            )
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else "cpu",
        "torch": torch.__version__,
        "matmul_flops": peak,
        "models": rows,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
