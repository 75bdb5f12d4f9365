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
    from kdutils.evaluate import classification_metrics, logits_metrics

    model = torch.nn.Identity()
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    y = torch.tensor([0, 0, 0])
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    metrics = classification_metrics(model, x, y, teacher_logits=teacher)
    assert metrics["correct"] == [1, 0, 1]
    assert metrics["agrees"] == [1, 0, 0]
    assert metrics["agreement"] == pytest.approx(1 / 3)
    assert "agreement" not in classification_metrics(model, x, y)
    # the same numbers from logits computed once (the model is the identity)
    assert logits_metrics(x, y, teacher) == metrics


def test_classification_metrics_take_any_data_and_are_json():
    import json

    from torch.utils.data import DataLoader, TensorDataset

    from kdutils.data import Split
    from kdutils.evaluate import classification_metrics

    model = torch.nn.Identity()
    x, y = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 0, 1])
    metrics = classification_metrics(model, x, y)
    json.dumps(metrics)  # plain Python: lists and numbers
    for data in (Split(x, y), TensorDataset(x, y), DataLoader(TensorDataset(x, y))):
        assert classification_metrics(model, data) == metrics


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


def test_fidelity_metrics_against_hand_computed_values():
    from kdutils.evaluate import fidelity_metrics

    # two images, two classes; the student is sure of class 0 (p = 0.9) on both, right on one
    logit = torch.log(torch.tensor(9.0))
    student = torch.tensor([[logit, 0.0], [logit, 0.0]])
    # uniform: agrees by argmax on class 0
    teacher = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    y = torch.tensor([0, 1])
    m = fidelity_metrics(student, teacher, y)
    # KL(uniform || (0.9, 0.1)) = 0.5 log(0.5 / 0.9) + 0.5 log(0.5 / 0.1)
    kl = 0.5 * torch.log(torch.tensor(0.5 / 0.9)) + 0.5 * torch.log(torch.tensor(5.0))
    assert m["kl"] == pytest.approx(kl.item(), rel=1e-5)
    assert m["agreement"] == 1.0 and m["accuracy"] == 0.5
    # NLL: -(log 0.9 + log 0.1) / 2
    nll = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.1))) / 2
    assert m["nll"] == pytest.approx(nll.item(), rel=1e-5)
    # both in one confidence bin: |0.9 - 0.5| = 0.4
    assert m["ece"] == pytest.approx(0.4, abs=1e-6)
    same = fidelity_metrics(student, student, y)
    assert same["kl"] == pytest.approx(0.0, abs=1e-6) and same["agreement"] == 1.0


def test_fidelity_ece_matches_the_binned_definition():
    """ECE = sum over bins of (share of images) * |accuracy - mean confidence|, 15 equal bins."""
    from kdutils.evaluate import fidelity_metrics

    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(500, 5, generator=g)
    y = torch.randint(0, 5, (500,), generator=g)
    probs = logits.softmax(1)
    confidence, pred = probs.max(1)
    bins = torch.clamp((confidence * 15).ceil().long() - 1, 0, 14)
    ece = sum(
        (bins == b).float().mean()
        * ((pred == y)[bins == b].float().mean() - confidence[bins == b].mean()).abs()
        for b in range(15)
        if (bins == b).any()
    )
    m = fidelity_metrics(logits, torch.zeros_like(logits), y)
    assert m["ece"] == pytest.approx(float(ece), abs=1e-5)


def test_fidelity_metrics_refuse_mismatched_shapes():
    from kdutils.evaluate import fidelity_metrics

    with pytest.raises(ValueError, match=r"student logits \(4, 3\), teacher logits"):
        fidelity_metrics(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4).long())
