import importlib.util
from pathlib import Path

import pytest
import torch

from kdutils.losses import kd_objective


def load_kd_step():
    path = Path(__file__).parents[1] / "bench" / "kd_step.py"
    spec = importlib.util.spec_from_file_location("kd_step", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("form", ["soft_target_form", "closed_form"])
def test_kd_step_forms_have_kd_objectives_value_and_gradient(form):
    kd_step = load_kd_step()
    torch.manual_seed(0)
    s0, t = torch.randn(16, 10) * 3, torch.randn(16, 10) * 5
    y = torch.randint(0, 10, (16,))
    results = []
    for objective in (kd_objective(kd_step.ALPHA, kd_step.T), getattr(kd_step, form)):
        s = s0.clone().requires_grad_()
        loss = objective(s, y, t)
        loss.backward()
        results.append((loss.detach(), s.grad))
    (value, grad), (value_form, grad_form) = results
    assert value_form == pytest.approx(value.item(), rel=1e-5)
    assert torch.allclose(grad_form, grad, atol=1e-6)
