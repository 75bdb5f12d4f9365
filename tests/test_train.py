"""The fit loop: seeding, the teacher-logit cache, errors, devices, torchrun."""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kdutils import losses
from kdutils.cache import TeacherCache
from kdutils.data import Split
from kdutils.evaluate import classification_metrics
from kdutils.models import mlp
from kdutils.runtime import pick_device
from kdutils.train import fit
from tests.conftest import train_small


def test_fit_ends_with_the_last_epoch(digits):
    model, history = train_small(digits, 0)
    assert history.column("epoch") == [1, 2, 3]
    last = history.column("val_accuracy")[-1]
    assert history.final_val_accuracy == last
    assert classification_metrics(model, digits.val.x, digits.val.y)[
        "accuracy"
    ] == pytest.approx(last)
    assert classification_metrics(model, digits.test.x, digits.test.y)["accuracy"] > 0.8


def test_distilled_train_loss_is_the_distillation_loss_of_its_steps(digits):
    teacher, _ = train_small(digits, 3)
    logged = []

    def recording(s, y, t):
        loss = losses.kd_objective(0.7, 4.0)(s, y, t)
        logged.append((loss.item(), len(y)))
        return loss

    _, history = train_small(
        digits, 0, objective=recording, teacher=TeacherCache(teacher, digits.train.x)
    )
    per_epoch = len(logged) // 3
    first = logged[:per_epoch]
    mean = sum(v * n for v, n in first) / sum(n for _, n in first)
    assert history.epochs[0]["train_loss"] == pytest.approx(mean, rel=1e-12)


def test_same_seed_same_numbers_other_seed_other_numbers(digits):
    a, ha = train_small(digits, 0)
    b, hb = train_small(digits, 0)
    c, hc = train_small(digits, 1)
    assert ha.column("train_loss") == hb.column("train_loss")
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values())
    )
    assert ha.column("train_loss") != hc.column("train_loss")


def test_distillation_with_teacher_cache_equals_teacher_forward(digits):
    teacher, _ = train_small(digits, 3)
    objective = lambda s, y, t: losses.distillation_loss(s, y, t, alpha=0.7, T=4.0)  # noqa: E731
    with_cache, h1 = train_small(
        digits, 0, objective=objective, teacher=TeacherCache(teacher, digits.train.x)
    )
    with_model, h2 = train_small(digits, 0, objective=objective, teacher=teacher)
    for a, b in zip(h1.column("train_loss"), h2.column("train_loss")):
        assert a == pytest.approx(b, rel=1e-5)


def test_teacher_cache_refuses_other_inputs_and_augmentation(digits):
    teacher, _ = train_small(digits, 3)
    cache = TeacherCache(teacher, digits.train.x)
    other = digits.train.x.clone()
    other[0, 0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="TeacherCache was built on other inputs"):
        cache.check(other)
    objective = lambda s, y, t: losses.distillation_loss(s, y, t, alpha=0.5, T=2.0)  # noqa: E731
    flip = lambda x: x.flip(-1)  # noqa: E731
    with pytest.raises(ValueError, match="cached logits would be stale: .*view_bank"):
        train_small(digits, 0, objective=objective, teacher=cache, augment=flip)
    # the teacher itself labels each augmented batch: what the student sees
    seen = []

    def recording(s, y, t):
        seen.append(t)
        return objective(s, y, t)

    train_small(digits, 0, objective=recording, teacher=teacher, augment=flip)
    first = digits.train.x[:1].flip(-1)
    assert any(
        torch.allclose(t, teacher(first).detach(), atol=1e-5)
        for batch in seen
        for t in batch.split(1)
    )


def test_eval_every_validates_less_often_and_always_at_the_end(digits):
    _, every = train_small(digits, 0)
    _, sparse = train_small(digits, 0, eval_every=2)
    assert every.column("epoch") == [1, 2, 3]
    assert sparse.column("epoch") == [2, 3]
    assert sparse.epochs[-1]["val_accuracy"] == every.epochs[-1]["val_accuracy"]
    with pytest.raises(ValueError, match="eval_every >= 1 .*eval_every=0"):
        train_small(digits, 0, eval_every=0)


def test_nan_loss_stops_training_with_a_clear_error(digits):
    nan_objective = lambda s, y, t: s.sum() * float("nan")  # noqa: E731
    with pytest.raises(FloatingPointError, match="non-finite loss .* at train epoch 1"):
        train_small(digits, 0, objective=nan_objective)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs >= 1.* got epochs=0"),
        ({"lr": -1.0}, "lr > 0.* lr=-1.0"),
    ],
)
def test_bad_training_arguments(digits, kwargs, message):
    args = {"epochs": 1, "lr": 1e-3} | kwargs
    with pytest.raises(ValueError, match=message):
        fit(mlp(64, [8], 10), digits.train, digits.val, progress=False, **args)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto").type == expected
    for bad in ("tpu", "mps", "gpu"):
        with pytest.raises(ValueError, match="unknown device .*choose 'auto', 'cpu'"):
            pick_device(bad)
    if not torch.cuda.is_available():
        for cuda in ("cuda", "cuda:0"):
            with pytest.raises(RuntimeError, match="needs a CUDA GPU .* device='cpu'"):
                pick_device(cuda)


def test_models_and_data_follow_the_device_they_are_given(digits):
    from kdutils.evaluate import classification_metrics, model_device, predict_logits

    model, _ = train_small(digits, 0)
    metrics = classification_metrics(model, digits.test.x, digits.test.y)
    assert model_device(model) == torch.device("cpu")
    assert metrics["accuracy"] == pytest.approx(
        sum(metrics["correct"]) / len(digits.test)
    )

    class OnMeta(
        nn.Module
    ):  # stands in for a model on another device: its batches must be sent there
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(1, device="meta"))
            self.seen = set()

        def forward(self, x):
            self.seen.add(x.device.type)
            return torch.zeros(len(x), 10)

    meta = OnMeta()
    assert model_device(meta) == torch.device("meta")
    assert predict_logits(meta, digits.test.x[:5]).shape == (5, 10) and meta.seen == {
        "meta"
    }


def test_torchrun_two_processes_match_one_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    script = str(root / "examples" / "ddp_digits.py")
    single = subprocess.run(
        [sys.executable, script, str(tmp_path / "one.pt")],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            script,
            str(tmp_path / "two.pt"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = (
        torch.load(tmp_path / f, weights_only=True) for f in ("one.pt", "two.pt")
    )
    for key in (
        one
    ):  # same global batch: same training, up to the order of floating-point sums
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)


def test_the_public_api_and_dict_outputs(digits):
    import kdutils

    for name in kdutils.__all__:
        assert getattr(kdutils, name).__module__.startswith("kdutils."), name

    class DictMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp(64, [16], 10)

        def forward(self, x):
            return {"logits": self.net(x)}

    history = kdutils.fit(
        DictMLP(), digits.train, digits.val, epochs=1, lr=1e-2, progress=False
    )
    assert history.epochs[0]["val_accuracy"] > 0.3


def test_history_records_training_accuracy(digits):
    _, history = train_small(digits, 0)
    accuracies = history.column("train_accuracy")
    assert all(0.0 <= a <= 1.0 for a in accuracies)
    assert accuracies[-1] > accuracies[0]  # it learns


def test_fit_refuses_integer_images_and_non_finite_validation(digits):
    from kdutils.data import Split

    as_bytes = Split((digits.train.x * 255).to(torch.uint8), digits.train.y)
    with pytest.raises(ValueError, match=r"train holds torch.uint8 images; .*/ 255"):
        fit(mlp(64, [8], 10), as_bytes, digits.val, epochs=1, lr=1e-3, progress=False)
    broken = Split(torch.full_like(digits.val.x, float("nan")), digits.val.y)
    with pytest.raises(FloatingPointError, match="non-finite logits on the validation"):
        fit(mlp(64, [8], 10), digits.train, broken, epochs=1, lr=1e-3, progress=False)


class PairDataset(torch.utils.data.Dataset):
    """(image, label) pairs of a Split, through an optional per-image transform."""

    def __init__(self, split, transform=None):
        self.split, self.transform = split, transform

    def __len__(self):
        return len(self.split)

    def __getitem__(self, index):
        x = self.split.x[index]
        return (self.transform(x) if self.transform else x), int(self.split.y[index])


def test_fit_trains_from_a_dataset_or_a_dataloader_like_from_tensors(digits):
    """Same seed, same model: a streamed Dataset gives the very numbers of the in-memory path
    (the same batches); a DataLoader's own sampler another order, and as good a result."""
    from torch.utils.data import DataLoader

    common = dict(epochs=3, lr=1e-2, batch_size=64, progress=False)
    results = {}
    for name, train, val in (
        ("tensors", digits.train, digits.val),
        ("dataset", PairDataset(digits.train), PairDataset(digits.val)),
        (
            "loader",
            DataLoader(PairDataset(digits.train), batch_size=32, shuffle=True),
            DataLoader(PairDataset(digits.val), batch_size=100),
        ),
    ):
        torch.manual_seed(0)
        model = mlp(64, [32], 10)
        history = fit(model, train, val, **common)
        results[name] = history.epochs[-1]["val_accuracy"]
        assert history.epochs[-1]["train_accuracy"] > 0.8, name
    assert min(results.values()) > 0.85, results
    assert results["dataset"] == results["tensors"]
    # the dataset path's shuffling follows fit's seed
    torch.manual_seed(0)
    a = fit(mlp(64, [32], 10), PairDataset(digits.train), digits.val, seed=5, **common)
    torch.manual_seed(0)
    b = fit(mlp(64, [32], 10), PairDataset(digits.train), digits.val, seed=5, **common)
    assert a.column("train_loss") == b.column("train_loss")


def test_teacher_cache_on_a_dataset_matches_the_live_teacher(digits):
    teacher, _ = train_small(digits, 3)
    train = PairDataset(digits.train, transform=lambda x: x * 1.0)  # deterministic
    cache = TeacherCache(teacher, train)
    torch.testing.assert_close(
        cache.logits, TeacherCache(teacher, digits.train.x).logits
    )
    assert torch.equal(cache.labels, digits.train.y)
    kd = losses.kd_objective(0.7, 4.0)

    def distil(data, given):
        torch.manual_seed(0)
        return fit(
            mlp(64, [32], 10),
            data,
            digits.val,
            epochs=2,
            lr=1e-2,
            objective=kd,
            teacher=given,
            progress=False,
        )

    cached, live = distil(train, cache), distil(train, teacher)
    for a, b in zip(cached.epochs, live.epochs):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="TeacherCache was built on other inputs"):
        distil(PairDataset(digits.train), cache)


def test_teacher_cache_on_a_shuffling_dataloader_keeps_dataset_order(digits):
    teacher, _ = train_small(digits, 3)
    loader = torch.utils.data.DataLoader(
        PairDataset(digits.train), batch_size=50, shuffle=True
    )
    cache = TeacherCache(teacher, loader)
    torch.testing.assert_close(
        cache.logits, TeacherCache(teacher, digits.train.x).logits
    )
    assert torch.equal(cache.labels, digits.train.y)


def test_autocast_only_on_a_gpu_with_native_bf16(monkeypatch):
    from kdutils import runtime

    assert isinstance(runtime.autocast(torch.device("cpu")), contextlib.nullcontext)
    for capability, expected in (
        ((7, 0), contextlib.nullcontext),
        ((8, 0), torch.autocast),
    ):
        monkeypatch.setattr(
            torch.cuda, "get_device_capability", lambda d, c=capability: c
        )
        assert isinstance(runtime.autocast(torch.device("cuda")), expected)


def test_teacher_cache_refuses_a_dataset_with_random_transforms(digits):
    from torchvision.transforms import v2

    teacher = mlp(64, [8], 10)
    named = PairDataset(digits.train)
    named.transform = v2.Compose([v2.RandomHorizontalFlip(), v2.Identity()])
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip.*teacher=model"):
        TeacherCache(teacher, named)
    # an unnamed random transform is caught by loading images twice
    noisy = PairDataset(digits.train, transform=lambda x: x + torch.rand_like(x))
    with pytest.raises(ValueError, match="loads differently twice"):
        TeacherCache(teacher, noisy)
    with pytest.raises(TypeError, match="must be a kdutils Split, a torch Dataset"):
        fit(mlp(64, [8], 10), digits.train.x, digits.val, epochs=1, lr=1e-2)


def test_teacher_cache_rolled_gives_each_view_another_views_logits(digits):
    teacher, _ = train_small(digits, 1)
    x = digits.train.x[:10]
    bank = torch.cat([x, x.flip(-1)])  # two views of 10 images
    cache = TeacherCache(teacher, bank)
    other = cache.rolled(len(x))
    assert torch.equal(other.logits[:10], cache.logits[10:])
    assert torch.equal(other.logits[10:], cache.logits[:10])
    other.check(bank)  # the student's inputs are still the bank


def test_teacher_cache_check_does_not_depend_on_the_thread_count():
    """A cache built with several threads passes its check on one, as in a sweep job on a GPU,
    although a float sum of these inputs rounds differently on one thread and on two."""
    g = torch.Generator().manual_seed(0)
    n = 1 << 16
    x = torch.rand(n, generator=g) * torch.exp2(
        torch.randint(-30, 30, (n,), generator=g).float()
    )
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        cache = TeacherCache.from_logits(torch.zeros(n, 2), x)
        two = float(x.sum(dtype=torch.float64))
        torch.set_num_threads(1)
        assert float(x.sum(dtype=torch.float64)) != two, (
            "these inputs no longer show it"
        )
        cache.check(x)
    finally:
        torch.set_num_threads(previous)
    x[0] += 1.0  # an edit in place still fails the check
    with pytest.raises(ValueError, match="TeacherCache was built on other inputs"):
        cache.check(x)


def test_teacher_cache_from_logits_keeps_them_and_checks_the_images():
    x = torch.rand(6, 1, 4, 4)
    logits = torch.randn(6, 3)
    cache = TeacherCache.from_logits(logits, x)
    assert cache.logits is logits
    cache.check(x)
    with pytest.raises(ValueError, match="TeacherCache was built on other inputs"):
        cache.check(x + 1)
    with pytest.raises(ValueError, match="5 rows of logits for 6 images"):
        TeacherCache.from_logits(logits[:5], x)


def test_seed_everything_can_ask_for_deterministic_kernels():
    import os

    from kdutils.runtime import seed_everything

    before = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        seed_everything(3, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        a = torch.rand(3)
        seed_everything(3)
        assert torch.equal(a, torch.rand(3))
    finally:
        torch.use_deterministic_algorithms(False)
    # kdutils sets no environment variables (torch itself may set its own)
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == before


def test_train_ce_compares_runs_under_any_objective(digits):
    """train_loss is the objective's value; train_ce the labels' cross-entropy, under any."""
    teacher, _ = train_small(digits, 3)
    cache = TeacherCache(teacher, digits.train.x)
    common = dict(epochs=2, lr=1e-2, progress=False)
    torch.manual_seed(0)
    alone = fit(mlp(64, [16], 10), digits.train, digits.val, **common).epochs[-1]
    torch.manual_seed(0)
    kd = losses.kd_objective(alpha=0.9, T=4.0)
    taught = fit(
        mlp(64, [16], 10),
        digits.train,
        digits.val,
        objective=kd,
        teacher=cache,
        **common,
    ).epochs[-1]
    assert alone["train_ce"] == pytest.approx(alone["train_loss"])
    assert taught["train_loss"] > 2 * taught["train_ce"]  # T^2 times a KL divergence
    assert 0 < taught["train_ce"] < 2.5


class DictDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return {"pixel_values": torch.zeros(1, 8, 8), "labels": index % 2}


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda d: DictDataset(),
            r"yields dicts with keys \['labels', 'pixel_values'\]; .*return a tuple",
        ),
        (
            lambda d: torch.utils.data.DataLoader(
                PairDataset(d.train), batch_size=8, collate_fn=lambda items: {"x": 0}
            ),
            r"the DataLoader yields dicts with keys \['x'\]; .*collate_fn",
        ),
        (
            lambda d: Split(d.train.x[:, 0], d.train.y),
            r"shape \(\d+, 8, 8\): N x H x W, no channel axis.*x.unsqueeze\(1\)",
        ),
        (
            lambda d: PairDataset(Split(d.train.x[:, 0], d.train.y)),
            r"no channel axis",
        ),
        (
            lambda d: Split(d.train.x, F.one_hot(d.train.y, 10)),
            r"labels have shape \(\d+, 10\).*one-hot labels become indices with "
            r"y.argmax\(1\)",
        ),
    ],
)
def test_unclear_inputs_get_errors_that_name_the_fix(digits, make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        fit(
            mlp(64, [8], 10),
            make(digits),
            digits.val,
            epochs=1,
            lr=1e-2,
            progress=False,
        )
