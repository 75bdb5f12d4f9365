# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Knowledge distillation from first principles
#
# **The question.** A large model (the *teacher*) has learnt a task; we want a small one (the
# *student*) that does almost as well and is cheap to run. Training the student on the same hard
# labels throws away most of what the teacher knows. What exactly does the teacher know that the
# labels do not say, how do we hand it over, and why does the recipe of {cite}`hinton2015distilling`
# — a temperature $T$ and a factor $T^2$ — look the way it does?
#
# This chapter answers with equations first and then checks every one of them numerically on a
# real classifier. Each check is recorded as a *claim* with a verdict; the
# {doc}`results page <../book/results>` lists them all.

# %% tags=["parameters"]
profile = "cpu"
seed = 0

# %%

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from kdbook import chapter, claims
from kdbook.teachers import get_teacher, teacher_config
from kdutils import losses, plots
from kdutils.data import load_splits
from kdutils.evaluate import classification_metrics, predict_logits
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import fit

cfg, device, run = chapter.start("01_kd_theory", profile, seed)
HINTON = "Hinton, Vinyals & Dean 2015 (sec. 2)"

# %% [markdown]
# (ch1-a-classifier-to-look-at)=
# ## A classifier to look at
#
# Everything below is measured on the outputs of a real classifier: an MLP trained on real
# handwritten digits (MNIST in the `cpu` profile, scikit-learn's 8x8 digits in `smoke`). Its
# *logits* $z$ (the inputs of the final softmax) are what a teacher hands to a student.

# %%
dataset = cfg.choose(smoke="digits", cpu="mnist", gpu="mnist")
splits = load_splits(
    dataset, per_class_limit=cfg.per_class_limit, download=cfg.allow_download
)
in_features = splits.train.x[0].numel()
# trained once, then from the checkpoint cache
teacher, _, loaded = get_teacher("theory-mlp", cfg, splits)
teacher_metrics = classification_metrics(teacher, splits.test.x, splits.test.y)
run.config, run.data_source = (
    {"teacher": teacher_config("theory-mlp", cfg, splits)},
    splits.source,
)
run.metrics["teacher_test"] = teacher_metrics
print(textwrap.fill(f"data: {splits.source}", 88))
print(
    f"split sizes: train {len(splits.train)}, val {len(splits.val)}, test "
    f"{len(splits.test)}"
)

# %% tags=["nbval-check-output"]
print(
    f"teacher test accuracy: {teacher_metrics['accuracy']:.4f} "
    f"({teacher_metrics['errors']} errors "
    f"of {len(splits.test)})"
)

# %% [markdown]
# (ch1-soft-targets-and-temperature)=
# ## Soft targets and temperature
#
# A softmax turns logits into probabilities. Hinton et al. add a *temperature* $T$:
#
# $$ q_i(T) = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}. $$
#
# At $T = 1$ a confident classifier puts almost all its mass on one class; the tiny probabilities
# of the other classes — *this 7 looks a little like a 1, not at all like a 6* — are real
# information about how the teacher generalises, but they barely move a cross-entropy loss. Raising
# $T$ flattens the distribution and makes those relative sizes visible. As $T \to \infty$ every
# distribution tends to uniform, whose entropy is $\log C$ for $C$ classes.

# %% mystnb={"figure": {"caption": "The test digit the teacher finds most ambiguous, and its softened output softmax(z / T) at five temperatures: the higher T, the more probability moves to the classes the label does not name."}, "image": {"alt": "The most ambiguous test digit beside bar charts of the teacher's softened class probabilities at five temperatures, flattening as T rises."}}
test_logits = predict_logits(teacher, splits.test.x).double()
temperatures = [1, 2, 5, 10, 20]
# the test image the teacher finds most ambiguous
example = int(torch.argmax(losses.entropy(test_logits, 2.0)))
fig, (ax_img, ax_bar) = plt.subplots(
    1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 4]}
)
ax_img.imshow(splits.test.x[example, 0], cmap="gray_r")
ax_img.set_title(
    f"test image {example}, label {splits.classes[splits.test.y[example]]}"
)
ax_img.axis("off")
plots.softened_bars(
    ax_bar,
    test_logits[example],
    temperatures,
    splits.classes,
    title="teacher's softened output: softmax(z / T)",
)
plt.tight_layout()
plt.show()

# %% mystnb={"figure": {"caption": "Mean entropy of the teacher's softened outputs on the test images [nats] against the temperature: it rises with T for every image."}, "image": {"alt": "Line plot of the mean entropy of the teacher's softened outputs, in nats, rising with the temperature."}}
T_grid = np.linspace(1, 20, 39)
fig, ax = plt.subplots(figsize=(7, 4))
plots.entropy_vs_temperature(
    ax, test_logits, T_grid, title="Higher temperature, softer targets"
)
plt.show()

# (temperatures, images)
entropies = torch.stack([losses.entropy(test_logits, float(T)) for T in T_grid])
monotone = (entropies.diff(dim=0) >= -1e-12).all(dim=0).double().mean().item()
run.add_claim(
    claims.check_exact(
        "entropy-rises-with-T",
        "Raising the temperature produces a softer probability distribution over "
        "classes.",
        HINTON,
        "fraction of test images whose softmax entropy never decreases over T = 1..20",
        observed=monotone,
        expected=1.0,
        tolerance=0.0,
        section="ch1-soft-targets-and-temperature",
    )
)

# %% [markdown]
# (ch1-soft-target-cross-entropy-and-kl-diverge)=
# ## Soft-target cross-entropy and KL divergence: the same gradient
#
# Hinton et al. write the soft loss as a cross-entropy with the teacher's softened distribution
# $p(T)$ as target, $H(p, q) = -\sum_i p_i \log q_i$. Most code (the Hugging Face guide, this book)
# uses the KL divergence instead:
#
# $$ \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log p_i - \sum_i p_i \log q_i = H(p, q) - H(p). $$
#
# The teacher's entropy $H(p)$ does not depend on the student, so both losses have the same
# gradient; only their values differ, and KL has the nicer property of being zero when the student
# matches the teacher. We check this with autograd on the teacher's real logits and the logits of
# a small student (784-20-20-10 on MNIST) after one epoch of ordinary training.

# %%
# the teacher may have been trained or loaded above: start the student afresh
seed_everything(seed)
student = mlp(in_features, [20, 20], len(splits.classes)).to(device)
fit(student, splits.train, splits.val, epochs=1, lr=1e-3, seed=seed, progress=False)
student_logits = predict_logits(student, splits.test.x).double()


def grad_wrt_student(loss_fn, logits, *args):
    z = logits.clone().requires_grad_(True)
    loss_fn(z, *args).backward()
    return z.grad


T = 4.0
g_kl = grad_wrt_student(losses.soft_kd_loss, student_logits, test_logits, T)
g_ce = grad_wrt_student(
    losses.soft_target_cross_entropy, student_logits, test_logits, T
)
gap = (
    losses.soft_target_cross_entropy(student_logits, test_logits, T)
    - losses.soft_kd_loss(student_logits, test_logits, T)
).item()
teacher_entropy = (losses.entropy(test_logits, T).mean() * T * T).item()
print(f"max |grad CE - grad KL| = {(g_kl - g_ce).abs().max().item():.2e}")
print(f"CE - KL = {gap:.6f}; T^2 x mean teacher entropy = {teacher_entropy:.6f}")
run.add_claim(
    claims.check_exact(
        "ce-kl-same-gradient",
        "Soft-target cross-entropy and KL divergence give the same gradient (they "
        "differ by the teacher's entropy).",
        HINTON,
        "max |d CE/dz - d KL/dz| over the test set at T = 4 (float64)",
        observed=(g_kl - g_ce).abs().max().item(),
        expected=0.0,
        tolerance=1e-12,
        section="ch1-soft-target-cross-entropy-and-kl-diverge",
    )
)

# %% [markdown]
# (ch1-why-multiply-by-t2)=
# ## Why multiply by $T^2$
#
# For one example, the gradient of the soft cross-entropy with respect to the student's logit
# $z_i$ is
#
# $$ \frac{\partial H}{\partial z_i} = \frac{1}{T}\,(q_i - p_i). $$
#
# As $T$ grows, $q - p$ itself shrinks like $1/T$ (both distributions approach uniform), so the
# gradient falls like $1/T^2$. Without a correction, raising $T$ would silently turn down the soft
# term's learning rate and change its balance with the hard-label loss. Multiplying the soft loss
# by $T^2$ keeps its gradient on the same scale whatever $T$ is — which is why the book's
# `soft_kd_loss` includes it. We measure the gradient norm with autograd.

# %%
T_sweep = np.geomspace(1, 10_000, 41)
norm_plain, norm_scaled = [], []
for T in T_sweep:
    # includes T^2
    g = grad_wrt_student(losses.soft_kd_loss, student_logits, test_logits, float(T))
    # per-example gradient norm
    norm_scaled.append(g.norm(dim=1).mean().item() * len(g))
    norm_plain.append(norm_scaled[-1] / T**2)
norm_plain, norm_scaled = np.array(norm_plain), np.array(norm_scaled)


def loglog_slope(mask, norms):
    return np.polyfit(np.log(T_sweep[mask]), np.log(norms[mask]), 1)[0]


# The 1/T^2 law is asymptotic: it needs T much larger than the spread of the logits
# (e^{x/T} ~ 1 + x/T).
spread = max(
    np.ptp(test_logits.numpy(), axis=1).max(),
    np.ptp(student_logits.numpy(), axis=1).max(),
)
asymptotic, practical = T_sweep >= 5 * spread, (T_sweep >= 2) & (T_sweep <= 20)
slope_plain, slope_scaled = (
    loglog_slope(asymptotic, norm_plain),
    loglog_slope(asymptotic, norm_scaled),
)
practical_plain = loglog_slope(practical, norm_plain)
run.metrics["grad_slope_practical_T2_to_20"] = practical_plain
print(
    f"largest logit spread: {spread:.1f}, so the asymptotic regime is T >= "
    f"{5 * spread:.0f}"
)
print(
    f"slope without T^2: {slope_plain:.3f} for T >= {5 * spread:.0f}; "
    f"{practical_plain:.3f} for 2 <= T <= 20"
)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Per-example gradient norm of the soft loss with respect to the student's logits, with and without the $T^2$ factor, against the temperature (log-log): without it the gradient falls as $1/T^2$; with it, it levels off."}, "image": {"alt": "Log-log plot of the soft loss's per-example gradient norm against the temperature: falling as 1/T^2 without the T^2 factor, levelling off with it."}}
fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(T_sweep, norm_plain, "o-", ms=3, label="KL alone")
ax.loglog(T_sweep, norm_scaled, "s-", ms=3, label=r"KL $\times T^2$")
ax.loglog(
    T_sweep,
    norm_plain[-1] * (T_sweep[-1] / T_sweep) ** 2,
    "k--",
    lw=1,
    label="reference $1/T^2$",
)
ax.axvspan(
    5 * spread, T_sweep[-1], color="grey", alpha=0.15, label="T >= 5 x logit spread"
)
ax.set_xlabel("temperature T")
ax.set_ylabel("mean per-example gradient norm ||dL/dz||")
ax.set_title("The soft term's gradient falls as $1/T^2$; the $T^2$ factor undoes it")
ax.legend()
plt.show()

# %% tags=["remove-cell"]
run.add_claim(
    claims.check_exact(
        "grad-falls-as-inverse-T2",
        "The magnitudes of the gradients produced by the soft targets scale as 1/T^2.",
        HINTON,
        "slope of log gradient norm vs log T, KL without the T^2 factor, for T >= 5 x "
        "the largest logit spread",
        observed=slope_plain,
        expected=-2.0,
        tolerance=0.05,
        section="ch1-why-multiply-by-t2",
    )
)
run.add_claim(
    claims.check_exact(
        "T2-factor-restores-scale",
        "Multiplying the soft loss by T^2 keeps its gradient scale unchanged when T "
        "changes (at high T).",
        HINTON,
        "slope of log gradient norm vs log T, KL x T^2, for T >= 5 x the largest logit "
        "spread",
        observed=slope_scaled,
        expected=0.0,
        tolerance=0.05,
        section="ch1-why-multiply-by-t2",
    )
)

# %% [markdown]
# In the range people actually use, $2 \le T \le 20$, the logits are not small compared with $T$
# and the fall-off is close to, but not exactly, $1/T^2$ (the slope printed above): the $T^2$ factor is a
# first-order correction that becomes exact as $T$ grows. Either way, changing $T$ without it
# changes the soft term's effective learning rate by orders of magnitude.

# %% [markdown]
# (ch1-the-high-temperature-limit-is-logit-matc)=
# ## The high-temperature limit is logit matching
#
# Expand the exponentials for $T$ much larger than the logits, $e^{x/T} \approx 1 + x/T$, and
# assume zero-mean logits for each example ($\sum_j z_j = \sum_j v_j = 0$, $v$ the teacher's):
#
# $$ \frac{\partial H}{\partial z_i} \approx \frac{1}{T}\left(\frac{1 + z_i/T}{N + \sum_j z_j/T}
#    - \frac{1 + v_i/T}{N + \sum_j v_j/T}\right) = \frac{1}{N T^2}\,(z_i - v_i). $$
#
# So with the $T^2$ factor, distillation at high temperature is gradient descent on
# $\tfrac{1}{2N}\sum_i (z_i - v_i)^2$: **matching logits**, the method of Caruana and colleagues {cite}`bucila2006compression,ba2014deep`.
# Softmax ignores a constant added to all logits, so the limit matches *centred* logits: our
# `logit_matching_loss` centres the student's and the teacher's logits per image before taking the
# squared error. We compare the gradients as $T$ grows, against it and against the squared error
# of the raw logits, which penalises an offset the soft loss never sees.


# %% mystnb={"figure": {"caption": "Relative error of the $T^2$-scaled soft-loss gradient against the gradient of logit matching on centred logits (falls to zero as T grows) and against the squared error of the raw logits (does not)."}, "image": {"alt": "Log-log plot of the relative gap between the T^2-scaled soft-loss gradient and two logit-matching gradients against the temperature: the gap to centred logit matching falls to zero, the gap to raw logit matching does not."}}
def uncentred_squared_error(z, v):
    return 0.5 * F.mse_loss(z, v)


# logit_matching_loss centres both sides itself, so it takes the raw logits
g_match = grad_wrt_student(losses.logit_matching_loss, student_logits, test_logits)
g_uncentred = grad_wrt_student(uncentred_squared_error, student_logits, test_logits)
T_limit = np.geomspace(1, 10_000, 41)
rel_error, rel_error_raw = [], []
for T in T_limit:
    g = grad_wrt_student(losses.soft_kd_loss, student_logits, test_logits, float(T))
    rel_error.append(((g - g_match).norm() / g_match.norm()).item())
    rel_error_raw.append(((g - g_uncentred).norm() / g_uncentred.norm()).item())

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(
    T_limit, rel_error, "o-", label="vs logit_matching_loss (centred): error -> 0"
)
ax.loglog(
    T_limit, rel_error_raw, "s-", label="vs squared error of raw logits: no limit"
)
ax.set_xlabel("temperature $T$")
ax.set_ylabel("relative error of the $T^2$ KD gradient")
ax.set_title("At high temperature, distillation becomes logit matching")
ax.legend()
plt.show()

run.add_claim(
    claims.check_exact(
        "high-T-is-logit-matching",
        "In the high-temperature limit, distillation is equivalent to matching the "
        "(zero-mean) logits.",
        HINTON,
        "relative error between the T^2-scaled KD gradient and logit_matching_loss's "
        "at T = 10,000 (raw logits in, centred inside)",
        observed=rel_error[-1],
        expected=0.0,
        tolerance=0.01,
        section="ch1-the-high-temperature-limit-is-logit-matc",
    )
)

# %% [markdown]
# (ch1-hard-label-distillation-the-zero-tempera)=
# ## Hard-label distillation: the zero-temperature end
#
# DeiT {cite}`touvron2021deit` also uses *hard* distillation: the student is trained with ordinary
# cross-entropy against the teacher's decision $y_t = \arg\max_i v_i$ rather than its
# probabilities. It is the other end of the temperature axis: as $T \to 0$ the softened teacher
# distribution becomes the one-hot vector of its argmax, so the soft cross-entropy (with the
# student kept at $T = 1$) turns into the hard-label loss. Hard targets carry no dark knowledge,
# but they are free of a temperature to tune and, unlike the dataset's labels, they follow what
# the teacher actually sees in an augmented crop. Where the teacher disagrees with the label, the
# hard-distilled student is taught the teacher's answer.


# %%
def soft_ce_student_at_1(student_z, teacher_z, T):
    return (
        -(F.softmax(teacher_z / T, dim=1) * F.log_softmax(student_z, dim=1))
        .sum(dim=1)
        .mean()
    )


# The limit is reached once T is well below the teacher's smallest gap between its top
# two logits.
top2 = test_logits.topk(2, dim=1).values
min_margin = (top2[:, 0] - top2[:, 1]).min().item()
T_cold = [1.0, 0.3, 0.1, 0.03, 0.01, min_margin / 50]
hard = losses.hard_distillation_loss(student_logits, test_logits).item()
cold_gap = [
    abs(soft_ce_student_at_1(student_logits, test_logits, T).item() - hard)
    for T in T_cold
]
print(f"hard-label loss: {hard:.4f}; smallest top-2 teacher margin: {min_margin:.3g}")
for T, g in zip(T_cold, cold_gap):
    print(f"T = {T:<9.3g} |soft CE - hard CE| = {g:.2e}")
disagree = (test_logits.argmax(dim=1) != splits.test.y).double().mean().item()
run.metrics["teacher_label_disagreement"] = disagree
print(
    f"the teacher's hard label differs from the true label on {disagree:.1%} of test "
    "images"
)
run.add_claim(
    claims.check_exact(
        "hard-is-zero-T-limit",
        "Hard-label distillation is soft distillation with the teacher's temperature "
        "taken to zero.",
        "Touvron et al. 2021 (DeiT, sec. 5)",
        "|soft CE(student, softmax(v / T)) - CE(student, argmax v)| at T = (smallest "
        "top-2 margin) / 50",
        observed=cold_gap[-1],
        expected=0.0,
        tolerance=1e-9,
        section="ch1-hard-label-distillation-the-zero-tempera",
    )
)

# %% [markdown]
# (ch1-the-conventions-this-book-uses-and-how-t)=
# ## The conventions this book uses, and how the sources differ
#
# Every chapter uses the same two functions from `kdutils.losses`:
#
# * `soft_kd_loss(s, t, T)` $= T^2\,\mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big)$,
#   averaged over the batch (`batchmean`), computed from `log_softmax` on both sides for stability;
# * `distillation_loss(s, y, t, alpha, T)` $= (1 - \alpha)\,\mathrm{CE}(s, y) + \alpha\cdot$ `soft_kd_loss`:
#   **`alpha` weighs the teacher**, `1 - alpha` the labels.
#
# Here they are, as the library defines them:
#
# ```{literalinclude} ../_src/kdutils/losses.py
# :pyobject: soft_kd_loss
# ```
#
# ```{literalinclude} ../_src/kdutils/losses.py
# :pyobject: distillation_loss
# ```
#
# The sources normalise differently, and it matters when you copy their hyper-parameters:
#
# | source | soft term | scale relative to this book |
# |---|---|---|
# | Hugging Face guide (ViT to MobileNetV2) | `KLDivLoss(batchmean)(log_softmax(s/T), softmax(t/T)) * T^2`, weight `lambda` on it | identical |
# | vit-pytorch `DistillWrapper` | KL with `batchmean`, times $T^2$ | identical |
# | DeiT `losses.py` | KL summed, times $\tau^2$, divided by `numel` = batch x classes | $C$ times smaller |
# | PyTorch KD tutorial, Hinton | soft-target cross-entropy | same gradient, value shifted by $T^2 H(p)$ |
# | Keras tf_flowers example | cross-entropy without $T^2$; *every* gradient (hard term too) multiplied by $T^2$ | see below |
# | MNIST blog (chapter 2) | `KLDivLoss` fed probabilities, no $T^2$ | a bug, measured in chapter 2 |
#
# The sources also name and place the weight between the two terms differently. The same
# recipe, in this book's `alpha` (the weight on the teacher's term):
#
# | source | its parameter | weighs | its default | this book's `alpha` |
# |---|---|---|---|---|
# | Keras `Distiller` example {cite}`kerasdistiller` | `alpha` | the labels' cross-entropy (`1 - alpha` the teacher) | 0.1 | 0.9 |
# | Hugging Face guide {cite}`hfguide` | `lambda_param` | the KD term (`1 - lambda` the labels) | 0.5 | 0.5 |
# | DeiT {cite}`touvron2021deit` | `alpha` (`--distillation-alpha`) | the KD term | 0.5 (hard), 0.1 (soft) | same value |
# | PyTorch KD tutorial {cite}`pytorchkd` | `soft_target_loss_weight`, `ce_loss_weight` | soft term, labels | 0.25, 0.75 | 0.25 |
# | MNIST blog (chapter 2) | `alpha` | the labels' cross-entropy (`1 - alpha` the KD term) | 0.3 | 0.7 |
# | tf_flowers explainer {cite}`kdexplainer` (Keras) | `alpha`, `beta`, divided by their sum | KD term, labels | 0.9, 0.1 | 0.9 |
#
# Two of these differences are checked numerically next: DeiT's soft term is exactly $C$ times
# smaller than ours, and the Keras example's $T^2$ on the gradients does nothing at all under Adam,
# whose update $m / (\sqrt{v} + \epsilon)$ is invariant to a constant rescaling of the gradient (up
# to $\epsilon$).

# %%
deit_soft = losses.deit_loss(
    student_logits,
    student_logits,
    splits.test.y,
    test_logits,
    "soft",
    alpha=1.0,
    tau=3.0,
)
ratio = (losses.soft_kd_loss(student_logits, test_logits, 3.0) / deit_soft).item()
print(
    f"batchmean soft KD / DeiT soft KD = {ratio:.6f} for C = {len(splits.classes)} "
    "classes"
)
# %% tags=["remove-cell"]
run.add_claim(
    claims.check_exact(
        "deit-soft-is-C-times-smaller",
        "DeiT's soft distillation divides the summed KL by batch x classes, so it is C "
        "times smaller than batchmean KL.",
        "DeiT losses.py; Hugging Face guide",
        "ratio soft_kd_loss / DeiT soft loss at tau = 3 (float64)",
        observed=ratio,
        expected=float(len(splits.classes)),
        tolerance=1e-9,
        section="ch1-the-conventions-this-book-uses-and-how-t",
    )
)


# %%
def adam_step_change(scale):
    torch.manual_seed(seed)
    model = mlp(in_features, [20, 20], len(splits.classes))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in (
        (splits.train.x[:256], splits.train.y[:256]),
        (splits.train.x[256:512], splits.train.y[256:512]),
    ):
        optimizer.zero_grad()
        (scale * F.cross_entropy(model(xb), yb)).backward()
        optimizer.step()
    return torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)]
    )


# T = 5, as in the Keras example
step_1, step_T2 = (
    adam_step_change(1.0),
    adam_step_change(25.0),
)
adam_gap = ((step_T2 - step_1).norm() / step_1.norm()).item()
print(
    "relative change of two Adam updates when gradients are multiplied by 25: "
    f"{adam_gap:.2e} "
    f"(plain SGD's updates would change by {25 - 1:.0%})"
)
# %% tags=["remove-cell"]
run.add_claim(
    claims.check_exact(
        "adam-ignores-gradient-scale",
        "Multiplying every gradient by T^2 (as the Keras example does) leaves Adam's "
        "updates essentially unchanged (within 1%; only epsilon breaks the "
        "invariance).",
        "Kingma & Ba 2015; Keras tf_flowers example",
        "relative difference of the parameter updates after two Adam steps, gradients "
        "x 25 vs x 1",
        observed=adam_gap,
        expected=0.0,
        tolerance=0.01,
        section="ch1-the-conventions-this-book-uses-and-how-t",
    )
)

# %% [markdown]
# (ch1-what-we-measured)=
# ## What we measured
#
# Every statement of this chapter, checked on the run you just executed:

# %% tags=["nbval-check-output"]
chapter.report(run)  # writes the results JSON and prints every claim's verdict

# %% [markdown]
# (ch1-what-it-means)=
# ## What it means
#
# * The teacher's knowledge beyond the label lives in the *ratios* of its small probabilities;
#   temperature makes them large enough to learn from.
# * KL and soft cross-entropy are interchangeable for training (the same gradient). The $T^2$
#   factor keeps the soft term's gradient on the hard term's scale as $T$ changes, so `alpha`
#   keeps its meaning; with the soft term alone, Adam ignores that scale anyway (checked above).
#   Whether it is worth accuracy in a real run is a question for the runs: chapter 3 measures
#   it ({ref}`ch3-what-we-measured`).
# * At one end of the temperature axis distillation is logit matching, at the other it is DeiT's
#   hard-label distillation. The next chapters measure where in between a student should sit, and
#   what these choices are worth in accuracy.
