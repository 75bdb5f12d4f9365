"""The fit loop, seeding, the teacher-logit cache, checkpoints and evaluation."""

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from kdutils import checkpoints, losses
from kdutils.data import load_splits
from kdutils.evaluate import accuracy, agreement, classification_metrics, macro_f1
from kdutils.models import count_parameters, mlp
from kdutils.train import TeacherCache, fit, pick_device


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits")


def train_small(digits, seed, **kwargs):
    torch.manual_seed(seed)
    model = mlp(64, [32], 10)
    history = fit(model, digits.train, digits.val, epochs=3, lr=1e-2, batch_size=64, seed=seed, progress=False, **kwargs)
    return model, history


def test_fit_keeps_the_last_epoch_by_default(digits):
    model, history = train_small(digits, 0)
    assert len(history.epochs) == 3 and history.kept_epoch == 3
    last = history.column("val_accuracy")[-1]
    assert history.kept_val_accuracy == last
    assert classification_metrics(model, digits.val.x, digits.val.y)["accuracy"] == pytest.approx(last)


def test_fit_can_keep_the_best_validation_epoch(digits):
    model, history = train_small(digits, 0, keep="best")
    best = max(history.column("val_accuracy"))
    assert history.kept_val_accuracy == best
    assert classification_metrics(model, digits.val.x, digits.val.y)["accuracy"] == pytest.approx(best)
    assert classification_metrics(model, digits.test.x, digits.test.y)["accuracy"] > 0.8


def test_same_seed_same_numbers_other_seed_other_numbers(digits):
    a, ha = train_small(digits, 0)
    b, hb = train_small(digits, 0)
    c, hc = train_small(digits, 1)
    assert ha.column("train_loss") == hb.column("train_loss")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert ha.column("train_loss") != hc.column("train_loss")


def test_distillation_with_teacher_cache_equals_teacher_forward(digits):
    teacher, _ = train_small(digits, 3)
    objective = lambda s, y, t: losses.distillation_loss(s, y, t, alpha=0.7, T=4.0)  # noqa: E731
    with_cache, h1 = train_small(digits, 0, objective=objective, teacher=TeacherCache(teacher, digits.train.x))
    with_model, h2 = train_small(digits, 0, objective=objective, teacher=teacher)
    for a, b in zip(h1.column("train_loss"), h2.column("train_loss")):
        assert a == pytest.approx(b, rel=1e-5)


def test_teacher_cache_refuses_other_inputs_and_is_bypassed_under_augmentation(digits):
    teacher, _ = train_small(digits, 3)
    cache = TeacherCache(teacher, digits.train.x)
    other = digits.train.x.clone()
    other[0, 0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="TeacherCache was built on other inputs"):
        cache.check(other)
    seen = []

    def objective(s, y, t):
        seen.append(t)
        return losses.distillation_loss(s, y, t, alpha=0.5, T=2.0)

    flip = lambda x: x.flip(-1)  # noqa: E731
    cache.logits.fill_(1e6)  # a stale cache would show up as these values
    train_small(digits, 0, objective=objective, teacher=cache, augment=flip)
    assert all(t.abs().max() < 1e5 for t in seen)


def test_nan_loss_stops_training_with_a_clear_error(digits):
    nan_objective = lambda s, y, t: s.sum() * float("nan")  # noqa: E731
    with pytest.raises(FloatingPointError, match="non-finite loss .* at train epoch 1"):
        train_small(digits, 0, objective=nan_objective)


@pytest.mark.parametrize("kwargs, message", [({"epochs": 0}, "epochs must be >= 1; got 0"), ({"lr": -1.0}, "learning rate must be > 0")])
def test_bad_training_arguments(digits, kwargs, message):
    args = {"epochs": 1, "lr": 1e-3} | kwargs
    with pytest.raises(ValueError, match=message):
        fit(mlp(64, [8], 10), digits.train, digits.val, progress=False, **args)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="needs a CUDA GPU .* profile='cpu'"):
            pick_device("cuda")


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model, config = mlp(4, [3], 2), {"hidden": [3], "lr": 0.1}
    path = checkpoints.save_checkpoint(tmp_path / "m.pt", model, config, {"note": "x"})
    fresh = mlp(4, [3], 2)
    assert checkpoints.load_checkpoint(path, fresh, config) == {"note": "x"}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    with pytest.raises(checkpoints.CheckpointMismatchError, match="was saved for config .* not for"):
        checkpoints.load_checkpoint(path, fresh, {"hidden": [3], "lr": 0.2})


def test_interrupted_checkpoint_write_leaves_the_old_file(tmp_path, monkeypatch):
    model, config = mlp(4, [3], 2), {"v": 1}
    path = checkpoints.save_checkpoint(tmp_path / "m.pt", model, config)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint(path, mlp(4, [3], 2), {"v": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


def test_cached_model_trains_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path))
    calls = []

    def train(model):
        calls.append(1)
        nn.init.constant_(model[1].weight, 0.5)
        return {"trained": True}

    build = lambda: mlp(4, [3], 2)  # noqa: E731
    m1, extra1, loaded1 = checkpoints.cached_model("t", {"a": 1}, build, train)
    m2, extra2, loaded2 = checkpoints.cached_model("t", {"a": 1}, build, train)
    assert (loaded1, loaded2, len(calls)) == (False, True, 1)
    assert torch.equal(m2[1].weight, torch.full((3, 4), 0.5)) and extra2 == {"trained": True}
    checkpoints.cached_model("t", {"a": 2}, build, train)
    assert len(calls) == 2


def _slow_teacher(log_path):
    def train(model):
        with open(log_path, "a") as log:
            log.write("trained\n")
        time.sleep(1.0)  # long enough for the other process to ask for the same teacher meanwhile
        nn.init.constant_(model[1].weight, 0.25)
        return {}

    model, _, loaded = checkpoints.cached_model("shared", {"a": 1}, lambda: mlp(4, [3], 2), train)
    return loaded, model[1].weight.sum().item()


def test_notebooks_side_by_side_train_a_shared_teacher_once(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path / "ckpt"))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_slow_teacher, [tmp_path / "log"] * 2)
    assert (tmp_path / "log").read_text() == "trained\n"
    assert sorted(loaded for loaded, _ in results) == [False, True]
    assert [weight for _, weight in results] == [0.25 * 12] * 2


def test_metrics_against_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(200, 4, generator=g), torch.randint(0, 4, (200,), generator=g)
    pred = logits.argmax(1).numpy()
    assert accuracy(logits, y) == pytest.approx(accuracy_score(y.numpy(), pred))
    assert macro_f1(logits, y) == pytest.approx(f1_score(y.numpy(), pred, average="macro"))
    assert agreement(logits, logits * 2) == 1.0


def test_mlp_shapes_and_errors():
    model = mlp(784, [1200, 1200], 10, dropout=0.5)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(model) == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10
    with pytest.raises(ValueError, match="dropout must be in"):
        mlp(784, [10], 10, dropout=1.0)


@pytest.mark.parametrize("alpha, T, t_squared", [(0.4, 3.0, True), (0.7, 7.0, False), (0.0, 2.0, True), (1.0, 20.0, True)])
def test_kd_objective_is_hintons_cross_entropy_form_with_distillation_loss_gradient(alpha, T, t_squared):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 5, generator=g, requires_grad=True)
    t, y = 3 * torch.randn(6, 5, generator=g), torch.tensor([0, 1, 2, 3, 4, 0])
    soft_scale = 1.0 if t_squared else 1.0 / T**2
    objective = losses.kd_objective(alpha, T, t_squared)
    value = objective(s, y, t)
    reference = ((1 - alpha) * torch.nn.functional.cross_entropy(s, y)
                 + alpha * soft_scale * losses.soft_target_cross_entropy(s, t, T))
    assert value.item() == pytest.approx(reference.item(), rel=1e-6)
    # the two differ by the teacher's entropy, a constant: same gradient as the KL form
    kl_form = (1 - alpha) * torch.nn.functional.cross_entropy(s, y) + alpha * soft_scale * losses.soft_kd_loss(s, t, T)
    assert value.item() - kl_form.item() == pytest.approx(
        alpha * soft_scale * T**2 * losses.entropy(t, T).mean().item(), rel=1e-5, abs=1e-6)
    kl_grad = torch.autograd.grad(kl_form, s)[0]
    torch.testing.assert_close(torch.autograd.grad(value, s)[0], kl_grad)
    # the closed form the fit loop uses: same value, and the gradient autograd finds
    closed_value, closed_grad = objective.value_and_grad(s, objective.teacher_targets(t, y))
    assert closed_value == pytest.approx(reference.item(), rel=1e-6)
    torch.testing.assert_close(closed_grad, kl_grad)


def test_kd_objective_closed_form_by_hand():
    # one image, two classes, alpha 0.5, T 2: softmax of (a, b) is (sig(a - b), 1 - sig(a - b))
    s, t, y = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 2.0]]), torch.tensor([1])
    sig = lambda v: 1 / (1 + math.exp(-v))
    q, q_T, p_T = sig(2.0), sig(1.0), sig(-1.0)  # class 0's probability for s, s / 2, t / 2
    # dL/ds_0 = 0.5 (q - 0) + 0.5 * 2 (q_T - p_T), and the two classes' gradients sum to 0
    g0 = 0.5 * q + (q_T - p_T)
    value = 0.5 * -math.log(1 - q) + 0.5 * 4 * -(p_T * math.log(q_T) + (1 - p_T) * math.log(1 - q_T))
    objective = losses.kd_objective(0.5, 2.0)
    closed_value, grad = objective.value_and_grad(s, objective.teacher_targets(t, y))
    assert closed_value == pytest.approx(value, rel=1e-6)
    torch.testing.assert_close(grad, torch.tensor([[g0, -g0]]))


def test_kd_objective_closed_form_passes_gradcheck():
    g = torch.Generator().manual_seed(1)
    t, y = 2 * torch.randn(5, 4, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 1])
    objective = losses.kd_objective(0.6, 4.0)
    targets = objective.teacher_targets(t, y)

    class ClosedForm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, s):
            value, grad = objective.value_and_grad(s, targets)
            ctx.save_for_backward(grad)
            return s.new_tensor(value)

        @staticmethod
        def backward(ctx, grad_output):
            return ctx.saved_tensors[0] * grad_output

    assert targets.weights.dtype == targets.offset.dtype == torch.float64
    assert torch.autograd.gradcheck(ClosedForm.apply, (torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True),))


def test_kd_objective_needs_a_teacher_and_checks_its_targets():
    s, t, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    objective = losses.kd_objective(0.4, 3.0)
    with pytest.raises(ValueError, match="kd_objective needs teacher logits"):
        objective(s, y, None)
    with pytest.raises(ValueError, match="alpha must be"):
        losses.kd_objective(2.0, 3.0)
    targets = objective.teacher_targets(t, y)
    assert targets.weights.shape == (6, 4) and targets.offset.shape == (3, 4)
    torch.testing.assert_close(targets.weights.view(2, 3, 4).sum(dim=1), torch.tensor([[0.6], [0.4 * 9]]).expand(2, 4))
    torch.testing.assert_close(targets.select(torch.tensor([2, 0])).offset, targets.offset[:, [2, 0]])
    with pytest.raises(ValueError, match=r"teacher targets must be \(2 \* classes, batch\) and \(classes, batch\)"
                                         r".*got \(6, 3\) and \(3, 3\)"):
        objective.value_and_grad(s, targets.select(torch.tensor([0, 1, 2])))


def test_kd_objective_with_cached_targets_trains_like_the_teacher_forward(digits):
    teacher, _ = train_small(digits, 3)
    objective = losses.kd_objective(0.7, 4.0)
    cached, h1 = train_small(digits, 0, objective=objective, teacher=TeacherCache(teacher, digits.train.x))
    live, h2 = train_small(digits, 0, objective=objective, teacher=teacher)
    # the same objective with autograd doing the gradient: the closed form trains the same model
    autograd, h3 = train_small(digits, 0, objective=lambda s, y, t: objective(s, y, t), teacher=teacher)
    for a, b, c in zip(h1.column("train_loss"), h2.column("train_loss"), h3.column("train_loss")):
        assert a == pytest.approx(b, rel=1e-5) and a == pytest.approx(c, rel=1e-4)
    for p, q, r in zip(cached.parameters(), live.parameters(), autograd.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(p, r, rtol=1e-3, atol=1e-4)


def test_stratified_subset_keeps_every_class(digits):
    from kdutils.data import stratified_subset

    small = stratified_subset(digits.train, 0.01, seed=0)
    assert torch.bincount(small.y, minlength=10).min() >= 1 and len(small) < 40
    assert torch.equal(stratified_subset(digits.train, 0.1, seed=3).x, stratified_subset(digits.train, 0.1, seed=3).x)
    assert stratified_subset(digits.train, 1.0) is digits.train
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]; got 0"):
        stratified_subset(digits.train, 0)


def test_mnist_student_run_and_class_shift(digits):
    from kdutils import mnist

    model, history, metrics = mnist.train_student((16,), digits, seed=0, epochs=2)
    _, _, again = mnist.train_student((16,), digits, seed=0, epochs=2)
    assert np.array_equal(metrics.pop("correct"), again.pop("correct")) and metrics == again
    assert len(history.epochs) == 2
    logits = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([1, 1])
    assert mnist.accuracy_with_shift(logits, y, 1, 0.0) == 0.5
    assert mnist.accuracy_with_shift(logits, y, 1, 1.5) == 1.0


def test_naive_baseline_loop_trains_like_kdutils(digits):
    from kdutils import baseline

    teacher, _ = train_small(digits, 3)
    rows = baseline.compare_loops(digits, teacher, teacher_hidden=(32,), student_hidden=(16,), epochs=2, batch_size=64)
    for row in ("teacher", "scratch", "kd"):
        assert rows[row]["speedup"] > 0
        # same models, optimizer and epochs: the two loops reach similar accuracy
        assert abs(rows[row]["naive"]["test_accuracy"] - rows[row]["kdutils"]["test_accuracy"]) < 0.15
    assert rows["kd"]["cache_seconds"] >= 0 and set(rows["kd_over_scratch"]) == {"naive", "kdutils"}


def _square_job(job, shared):
    return {"value": job["x"] ** 2 + shared["offset"], "threads": torch.get_num_threads()}


def _pid_job(job, shared):
    import os

    return os.getpid()


def test_run_jobs_gives_the_same_results_in_parallel_and_inline():
    from kdutils.sweep import run_jobs

    jobs = [{"x": x} for x in range(5)]
    parallel = run_jobs(_square_job, jobs, {"offset": 1}, processes=2, progress=False)
    inline = run_jobs(_square_job, jobs, {"offset": 1}, processes=1, progress=False)
    assert parallel == inline == [{"value": x * x + 1, "threads": 1} for x in range(5)]
    with pytest.raises(ValueError, match="processes must be >= 1"):
        run_jobs(_square_job, jobs, {}, processes=-1)


def test_run_jobs_forks_on_the_cpu_and_stays_in_this_process_for_cuda(monkeypatch):
    import os

    from kdutils.sweep import run_jobs

    jobs = [{}] * 4
    assert set(run_jobs(_pid_job, jobs, {}, processes=2, progress=False)).isdisjoint({os.getpid()})
    monkeypatch.setenv("KD_WORKERS", "1")  # a notebook given one core when several run side by side: no workers
    assert set(run_jobs(_pid_job, jobs, {}, progress=False)) == {os.getpid()}
    # CUDA state does not survive fork: with a GPU the jobs run here (no GPU is touched by this job)
    assert set(run_jobs(_pid_job, jobs, {}, processes=2, progress=False, device="cuda")) == {os.getpid()}


def test_models_and_data_follow_the_device_they_are_given(digits):
    from kdutils import mnist
    from kdutils.evaluate import model_device, predict_logits

    model, history, metrics = mnist.train_student([8], digits, 0, epochs=1, device="cpu", amp=True)
    assert model_device(model) == torch.device("cpu") and 0.0 <= metrics["accuracy"] <= 1.0

    class OnMeta(nn.Module):  # stands in for a model on another device: its batches must be sent there
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(1, device="meta"))
            self.seen = set()

        def forward(self, x):
            self.seen.add(x.device.type)
            return torch.zeros(len(x), 10)

    meta = OnMeta()
    assert model_device(meta) == torch.device("meta")
    assert predict_logits(meta, digits.test.x[:5]).shape == (5, 10) and meta.seen == {"meta"}


def test_student_job_objectives(digits):
    from kdutils import mnist

    teacher, _ = train_small(digits, 3)
    shared = {"splits": digits, "cache": TeacherCache(teacher, digits.train.x)}
    for objective in ({"kind": "alone"}, {"kind": "kd", "alpha": 0.5, "T": 4.0, "t_squared": False},
                      {"kind": "logits", "alpha": 0.5}):
        result = mnist.student_job({"hidden": [8], "seed": 0, "epochs": 1, "objective": objective}, shared)
        assert 0.0 <= result["accuracy"] <= 1.0 and result["objective"] == objective
    with pytest.raises(ValueError, match="unknown objective kind 'mse'"):
        mnist.objective_for({"kind": "mse"})


def test_torchrun_two_processes_match_one_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    script = str(root / "examples" / "ddp_digits.py")
    single = subprocess.run([sys.executable, script, str(tmp_path / "one.pt")], cwd=root, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-2000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          script, str(tmp_path / "two.pt")], cwd=root, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = (torch.load(tmp_path / f, weights_only=True) for f in ("one.pt", "two.pt"))
    for key in one:  # same global batch: same training, up to the order of floating-point sums
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)


def test_batches_shard_the_global_batch():
    from kdutils.data import batches

    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    full = [idx.tolist() for idx, _, _ in batches(x, y, 4)]
    halves = [[idx.tolist() for idx, _, _ in batches(x, y, 4, shard=(r, 2))] for r in (0, 1)]
    assert [sorted(a + b) for a, b in zip(*halves)] == [sorted(f) for f in full]
