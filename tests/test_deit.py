"""DeiT pieces: the two-head student against timm, head ensembling, objectives, token similarity, teacher selection."""

import pytest
import torch
import torch.nn.functional as F

from kdbook.fashion import head_logits
from kdbook.models import vit_small_images
from kdutils import deit, losses
from kdutils.data import Split
from kdutils.train import fit


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    vit = vit_small_images(
        8, 1, 3, embed_dim=16, depth=2, num_heads=2, patch_size=4, distilled=True
    )
    return deit.DistilledViT(vit), torch.rand(5, 1, 8, 8)


def test_two_heads_match_timm(tiny):
    model, x = tiny
    model.train()
    class_logits, dist_logits = model(x)
    vit = model.vit
    vit.set_distilled_training(True)
    vit.train()
    ref_class, ref_dist = vit(x)
    torch.testing.assert_close(class_logits, ref_class)
    torch.testing.assert_close(dist_logits, ref_dist)


def test_eval_mode_heads(tiny):
    model, x = tiny
    model.train()
    class_logits, dist_logits = model(x)
    for head, expected in (("class", class_logits), ("distill", dist_logits)):
        torch.testing.assert_close(
            deit.DistilledViT(model.vit, head).eval()(x), expected
        )
    both = deit.DistilledViT(model.vit).eval()(x)
    torch.testing.assert_close(
        both.exp(), (F.softmax(class_logits, 1) + F.softmax(dist_logits, 1)) / 2
    )
    with pytest.raises(ValueError, match="unknown heads 'mean'"):
        deit.DistilledViT(model.vit, "mean")


def test_head_logits_match_each_head_in_one_pass(tiny):
    model, x = tiny
    model.train()
    calls = []
    handle = model.vit.blocks[0].register_forward_hook(lambda *_: calls.append(1))
    logits = head_logits(model, x, batch_size=3)  # two batches: 3 images, then 2
    handle.remove()
    assert set(logits) == set(deit.HEADS)
    assert len(calls) == -(-len(x) // 3)  # one pass over the data for the three heads
    assert model.training  # the caller's mode is restored, training or not
    head_logits(model.eval(), x)
    assert not model.training
    for head in deit.HEADS:
        expected = deit.DistilledViT(model.vit, head).eval()(x)
        torch.testing.assert_close(logits[head], expected)


def test_distilled_vit_refuses_a_plain_vit():
    with pytest.raises(ValueError, match="needs a model with a distillation token"):
        deit.DistilledViT(
            vit_small_images(8, 1, 3, embed_dim=16, depth=1, num_heads=2, patch_size=4)
        )


def test_deit_objective_kinds():
    g = torch.Generator().manual_seed(0)
    c, d, t = (torch.randn(4, 3, generator=g) for _ in range(3))
    y = torch.tensor([0, 1, 2, 0])
    hard = deit.deit_objective("hard", alpha=0.5)((c, d), y, t)
    assert hard.item() == pytest.approx(
        losses.deit_loss(c, d, y, t, "hard", 0.5).item()
    )
    # a plain ViT: one head does both
    single = deit.deit_objective("soft", alpha=0.1, tau=3.0)(c, y, t)
    assert single.item() == pytest.approx(
        losses.deit_loss(c, c, y, t, "soft", 0.1, 3.0).item()
    )
    control = deit.deit_objective("two-class", alpha=0.5)((c, d), y, None)
    assert control.item() == pytest.approx(
        (0.5 * F.cross_entropy(c, y) + 0.5 * F.cross_entropy(d, y)).item()
    )
    with pytest.raises(ValueError, match="needs teacher logits"):
        deit.deit_objective("hard")((c, d), y, None)
    with pytest.raises(ValueError, match="'none', 'soft' or 'hard'; got 'medium'"):
        deit.deit_objective("medium")


def test_token_similarity_has_one_value_per_layer(tiny):
    model, x = tiny
    sims = deit.token_similarity(model, x)
    assert len(sims) == 1 + len(model.vit.blocks)
    assert sims[0] < 0.9  # two independently initialised tokens differ
    vit = model.vit
    with (
        torch.no_grad()
    ):  # identical tokens at identical positions stay identical through every block
        vit.dist_token.copy_(vit.cls_token)
        vit.pos_embed[:, 1].copy_(vit.pos_embed[:, 0])
    assert deit.token_similarity(model, x) == pytest.approx([1.0] * len(sims), abs=1e-5)


def test_fit_trains_a_two_head_student(tiny):
    model, _ = tiny
    g = torch.Generator().manual_seed(0)
    y = torch.arange(30) % 3
    x = torch.rand(30, 1, 8, 8, generator=g)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    history = fit(
        model,
        Split(x, y),
        Split(x, y),
        epochs=2,
        lr=1e-3,
        batch_size=8,
        progress=False,
        teacher=teacher,
        objective=deit.deit_objective("hard"),
    )
    assert len(history.epochs) == 2 and not model.training
