"""The Hugging Face route, offline: tiny random ViT and MobileNetV2 configs, generated images, both training routes."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from kdbook import guide  # noqa: E402
from kdutils import hf, losses  # noqa: E402
from kdutils.cache import TeacherCache  # noqa: E402
from kdutils.data import Split  # noqa: E402
from kdutils.train import fit  # noqa: E402

IMAGE, CLASSES = 32, 3


def tiny_teacher():
    config = transformers.ViTConfig(
        image_size=IMAGE,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=CLASSES,
    )
    torch.manual_seed(0)
    return transformers.ViTForImageClassification(config)


def tiny_student():
    torch.manual_seed(1)
    return guide.mobilenet_v2_student(
        CLASSES, image_size=IMAGE, depth_multiplier=0.35, finegrained_output=False
    )


def generated_images(n=24):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % CLASSES
    x = torch.rand(n, 3, IMAGE, IMAGE, generator=g) * 0.2
    for c in range(CLASSES):  # each class brightens its own channel: learnable
        x[y == c, c] += 0.8
    return x, y


class DictDataset(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"pixel_values": self.x[i], "labels": self.y[i]}


def test_distillation_trainer_compute_loss_is_kdutils_loss(tmp_path):
    x, y = generated_images(8)
    teacher, student = tiny_teacher(), tiny_student()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), report_to="none", use_cpu=True
    )
    trainer = hf.DistillationTrainer(
        model=student, args=args, teacher_model=teacher, temperature=5.0, alpha=0.5
    )
    inputs = {"pixel_values": x, "labels": y}
    student.eval()  # no dropout or batch statistics: both evaluations see the same network
    loss, outputs = trainer.compute_loss(student, inputs, return_outputs=True)
    with torch.no_grad():
        expected = losses.distillation_loss(
            student(pixel_values=x).logits, y, teacher(pixel_values=x).logits, 0.5, 5.0
        )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert outputs.logits.shape == (8, CLASSES)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        hf.DistillationTrainer(
            model=student, args=args, teacher_model=teacher, alpha=1.5
        )


def test_trainer_route_trains_and_evaluates(tmp_path):
    x, y = generated_images()
    args = guide.training_arguments(
        str(tmp_path),
        epochs=2,
        seed=0,
        on_gpu=False,
        use_cpu=True,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        learning_rate=1e-2,
    )
    assert (
        args.report_to == ["tensorboard"]
        and args.load_best_model_at_end
        and args.metric_for_best_model == "accuracy"
    )
    # workers only pay off beside a GPU
    assert args.dataloader_num_workers == 0 and not args.dataloader_pin_memory
    trainer = hf.DistillationTrainer(
        model=tiny_student(),
        args=args,
        train_dataset=DictDataset(x, y),
        eval_dataset=DictDataset(x, y),
        compute_metrics=guide.compute_metrics,
        teacher_model=tiny_teacher(),
        temperature=5.0,
        alpha=0.5,
    )
    result = trainer.train()
    assert result.global_step == 6 and torch.isfinite(
        torch.tensor(result.training_loss)
    )
    metrics = trainer.evaluate(DictDataset(x, y), metric_key_prefix="test")
    predictions = trainer.predict(DictDataset(x, y)).predictions.argmax(-1)
    by_hand = float((torch.as_tensor(predictions) == y).float().mean())
    assert (
        metrics["test_accuracy"] == pytest.approx(by_hand)
        and "test_macro_f1" in metrics
    )
    assert list(tmp_path.glob("**/events.out.tfevents*")), "no TensorBoard log written"


def test_kdutils_loop_accepts_hugging_face_models():
    x, y = generated_images()
    train = val = Split(x, y)
    teacher, student = tiny_teacher(), tiny_student()
    history = fit(
        student,
        train,
        val,
        epochs=2,
        lr=1e-2,
        batch_size=8,
        progress=False,
        teacher=TeacherCache(teacher, x),
        objective=losses.kd_objective(0.5, 5.0),
    )
    assert len(history.epochs) == 2 and all(
        torch.isfinite(torch.tensor(r["train_loss"])) for r in history.epochs
    )


def test_compute_metrics():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0]])
    metrics = guide.compute_metrics((logits.numpy(), torch.tensor([0, 1, 2]).numpy()))
    assert metrics["accuracy"] == pytest.approx(2 / 3)


def test_offline_hub_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hf.hub_reachable()
    with pytest.raises(
        guide.HubUnavailableError, match=r"needs the Hugging Face Hub .* profile='cpu'"
    ):
        guide.load_guide_setup()
