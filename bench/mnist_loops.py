"""Benchmark: the blog's naive MNIST loop vs kdutils' loop, same data, models, batch size and epochs.

Prints seconds per epoch for teacher training, the student alone and the distilled student, the
speed-ups as ratios measured in this one process, and both loops' test accuracies.

    .venv/bin/python bench/mnist_loops.py --epochs 5
"""

from __future__ import annotations

import argparse

import torch

from kdbook import baseline, mnist
from kdbook.profiles import get_profile
from kdutils.data import load_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="the data of this profile")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--batch-size", type=int, default=64, help="the blog's batch size"
    )
    args = parser.parse_args()

    cfg = get_profile(args.profile)
    splits = load_splits(
        mnist.dataset_for(cfg),
        per_class_limit=cfg.per_class_limit,
        download=cfg.allow_download,
    )
    rows = baseline.compare_loops(
        splits,
        teacher_hidden=baseline.BLOG_TEACHER,
        student_hidden=mnist.BLOG_STUDENT,
        epochs=args.epochs,
        settings=baseline.LoopSettings(batch_size=args.batch_size),
    )
    print(
        f"data: {splits.source}; {len(splits.train)} training images; batch {args.batch_size}; {args.epochs} epochs; "
        f"{torch.get_num_threads()} thread(s)"
    )
    print(baseline.speed_table(rows).to_string())
    print(baseline.ratio_line(rows))


if __name__ == "__main__":
    main()
