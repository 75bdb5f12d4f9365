"""Evaluation: metrics against scikit-learn, devices."""

import pytest
import torch

from kdutils.evaluate import accuracy, agreement, macro_f1


def test_metrics_against_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    g = torch.Generator().manual_seed(0)
    logits, y = (
        torch.randn(200, 4, generator=g),
        torch.randint(0, 4, (200,), generator=g),
    )
    pred = logits.argmax(1).numpy()
    assert accuracy(logits, y) == pytest.approx(accuracy_score(y.numpy(), pred))
    assert macro_f1(logits, y) == pytest.approx(
        f1_score(y.numpy(), pred, average="macro")
    )
    assert agreement(logits, logits * 2) == 1.0


def test_classification_metrics_with_teacher_logits_counts_agreement():
    from kdutils.evaluate import classification_metrics

    model = torch.nn.Identity()
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    y = torch.tensor([0, 0, 0])
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    metrics = classification_metrics(model, x, y, teacher_logits=teacher)
    assert metrics["correct"].tolist() == [1, 0, 1]
    assert metrics["agrees"].tolist() == [1, 0, 0]
    assert metrics["agreement"] == pytest.approx(1 / 3)
    assert "agreement" not in classification_metrics(model, x, y)


def test_logits_of_tensors_objects_and_dicts():
    from types import SimpleNamespace

    from kdutils.evaluate import logits_of, predict_logits

    x = torch.randn(3, 4)
    assert logits_of(x) is x
    assert logits_of({"logits": x, "loss": 0}) is x
    assert logits_of(SimpleNamespace(logits=x)) is x
    with pytest.raises(TypeError, match="cannot find logits .* type str"):
        logits_of("nope")

    class DictModel(torch.nn.Module):
        def forward(self, inputs):
            return {"logits": inputs * 2}

    assert torch.equal(predict_logits(DictModel(), x), x * 2)


def test_predict_dataset_matches_predict_logits_on_tensors(digits):
    from torch.utils.data import DataLoader, TensorDataset

    from kdutils.evaluate import predict_dataset, predict_logits
    from kdutils.models import mlp

    torch.manual_seed(0)
    model = mlp(64, [16], 10)
    dataset = TensorDataset(digits.test.x, digits.test.y)
    for data in (dataset, DataLoader(dataset, batch_size=7)):
        logits, labels = predict_dataset(model, data, batch_size=50)
        torch.testing.assert_close(logits, predict_logits(model, digits.test.x))
        assert torch.equal(labels, digits.test.y)
    assert model.training  # left as it was
