"""Train an MLP on scikit-learn's digits with kdutils' loop, in one process or several under torchrun.

    .venv/bin/python examples/ddp_digits.py out.pt                                  # one process
    .venv/bin/torchrun --standalone --nproc_per_node 2 examples/ddp_digits.py out.pt  # two (gloo on CPU, nccl on GPUs)

Rank 0 writes the trained weights to ``out.pt``. The global batch is the same in both cases, so the
two runs train the same model (up to the order of floating-point sums).
"""

from __future__ import annotations

import os
import sys

import torch

from kdutils.data import Split, load_splits
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import fit

GLOBAL_BATCH, EPOCHS = 64, 2
SAMPLES = 1280  # a multiple of the global batch, so every step splits evenly


def main(out: str) -> None:
    distributed = "WORLD_SIZE" in os.environ
    device = torch.device("cpu")
    if (
        torch.cuda.is_available()
    ):  # one GPU per process: fit trains the model where it is
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if distributed:
        torch.distributed.init_process_group(
            "nccl" if device.type == "cuda" else "gloo"
        )
    splits = load_splits("digits")
    train = Split(splits.train.x[:SAMPLES], splits.train.y[:SAMPLES])
    seed_everything(0)
    model = mlp(64, [32], 10).to(device)
    fit(
        model,
        train,
        splits.val,
        epochs=EPOCHS,
        lr=1e-2,
        batch_size=GLOBAL_BATCH,
        seed=0,
        progress=False,
    )
    if not distributed or torch.distributed.get_rank() == 0:
        torch.save(model.cpu().state_dict(), out)
    if distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
