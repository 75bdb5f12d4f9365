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
# # DeiT: distillation through attention, with a distillation token
#
# **The question.** Vision Transformers need a lot of data to beat convnets. DeiT
# {cite}`touvron2021deit` trains them on ImageNet alone by distilling from a convnet teacher
# (an explainer with vit-pytorch's code: {cite}`deitexplainer`), and makes two claims this chapter tests at small scale:
#
# 1. **Hard distillation beats soft distillation** for a transformer student. With
#    $y_t = \arg\max_c Z_t(c)$ the teacher's decision, DeiT's hard objective is
#    $\tfrac12 \mathrm{CE}(\psi(Z_s), y) + \tfrac12 \mathrm{CE}(\psi(Z_s), y_t)$, its soft one
#    $(1 - \lambda)\,\mathrm{CE}(\psi(Z_s), y) + \lambda \tau^2 \mathrm{KL}(\psi(Z_t/\tau), \psi(Z_s/\tau))$
#    with $\tau = 3$, $\lambda = 0.1$ (and, in DeiT's code, the KL summed and divided by batch x classes).
# 2. **A distillation token helps.** Besides the class token, the student gets a second learned
#    token whose output, through its own head, is trained on the teacher's hard labels; at test
#    time the two heads' softmaxes are averaged.
#
# It also reports that **a convnet teacher beats a transformer teacher** of similar accuracy —
# the student inherits the convnet's inductive bias. The paper's ImageNet top-1 (DeiT-B student,
# RegNetY-16GF teacher; DeiT-Ti in brackets): no distillation 81.8 (72.2); soft 81.8 (72.2); hard
# 83.0 (74.3); with the distillation token, class head 83.0 (73.9), distillation head 83.1 (74.6),
# both 83.4 (74.5). Teachers: DeiT-B (81.8) gives a student of 81.9, RegNetY-8GF (81.7) one of 82.7.

# %% tags=["parameters"]
profile = "cpu"
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kdbook import chapter, claims, fashion
from kdbook.sweep import run_jobs
from kdbook.teachers import get_teacher, teacher_config
from kdutils.augment import Augmentation, view_bank
from kdutils.cache import TeacherCache
from kdutils.evaluate import classification_metrics, logits_metrics, predict_logits
from kdutils.models import count_parameters

cfg, device, run = chapter.start("05_deit_distillation_token", profile, seed)
PAPER = "Touvron et al. 2021 (DeiT), Tables 3-5"

# %% [markdown]
# (ch5-what-we-test-declared-before-the-runs)=
# ## What we test, declared before the runs
#
# One **primary claim**: a transformer student distilled from the convnet (hard labels, with the
# distillation token) beats the same student trained without distillation, by more than half a
# point of test accuracy. Its two arms run on every seed of the profile. Hard vs soft, the token's
# contribution and the choice of teacher are exploratory, on fewer seeds.
#
# A claim about what distillation does is tested only where its setting holds: a teacher clearly
# better than the student trained alone, its test error at most 0.6 times the student's (Hinton
# et al.'s MNIST teacher made 67 test errors against its student's 146). Each such claim records
# the teacher's test error, the student-alone error and the teacher's accuracy on the student's
# training images; without that headroom it is reported as *not testable here*, with its numbers.

# %%
run.declare_primary({"distillation-beats-none": 0.005})
PRIMARY_ARMS = ("no distillation", "hard + distillation token")

# %% [markdown]
# (ch5-data-and-two-teachers-of-similar-accurac)=
# ## Data and teachers
#
# Fashion-MNIST as in the previous chapter, with its whole 10,000-image test set. Three teachers,
# each trained with shifts and flips to the end of a cosine schedule and cached: the **convnet
# teacher** of the previous chapter (a small VGG-style CNN on 20,000 images), which teaches every
# distilled student of the ablation; the **transformer teacher**, a small timm ViT trained on the
# same 20,000 images; and, since DeiT compares teachers *of similar accuracy* and a ViT trained
# from scratch on small data is much weaker than a convnet, a second convnet matched to the ViT
# by its **training data**: the same recipe on fewer images, not stopped early.

# %%
splits, data_note = fashion.load_fashion(cfg)
student_train = fashion.student_train_split(
    splits, cfg.choose(smoke=20, cpu=500, gpu=500)
)
# the ViT first: in a full build the previous chapter trains the convnet meanwhile
TEACHERS = {
    "ViT": "fashion-vit",
    "CNN, less data": "fashion-cnn-less-data",
    "CNN": "fashion-cnn",
}
teachers = {name: get_teacher(key, cfg, splits)[0] for name, key in TEACHERS.items()}
teacher_test_logits = {
    name: predict_logits(m.to(device), splits.test.x, device=device)
    for name, m in teachers.items()
}
teacher_test = {
    name: logits_metrics(teacher_test_logits[name], splits.test.y) for name in teachers
}
teacher_on_students_images = {
    name: classification_metrics(m, student_train.x, student_train.y, device=device)[
        "accuracy"
    ]
    for name, m in teachers.items()
}
run.data_source = splits.source
run.config = {
    "data": splits.summary(),
    "student_train": len(student_train),
    "teachers": {
        name: teacher_config(key, cfg, splits) for name, key in TEACHERS.items()
    },
}
run.metrics["teachers"] = teacher_test
print(data_note)
for name, m in teachers.items():
    config = run.config["teachers"][name]
    images = config.get("train_per_class", len(splits.train) // len(splits.classes))
    print(
        f"{name} teacher: {count_parameters(m) / 1e6:.2f} M parameters, "
        f"{images * len(splits.classes)} training images"
    )

# %% tags=["nbval-check-output"]
for name, metrics in teacher_test.items():
    print(f"{name} teacher test accuracy {metrics['accuracy']:.4f}")

# %% [markdown]
# (ch5-the-ablation)=
# ## The ablation
#
# One student architecture (a small timm ViT: 4 blocks, width 64, 2 heads, 7 x 7 patches: two
# thirds of the ViT teacher's width), the same optimizer, schedule, images and steps for every row; only
# the objective, the tokens and the teacher change. DeiT trains its students with strong augmentation (section 6: RandAugment,
# Mixup, CutMix and random erasing {cite}`zhong2020erasing` with probability 0.25); at 28 px we
# keep its spirit with shifts, flips and random erasing. The teacher must label the very view the
# student sees ({cite:t}`beyer2022patient`'s consistency), so the views are drawn once into a bank, three per training
# image, and each teacher's logits on the bank are computed once. The students train side by side,
# one thread each.
#
# `kdutils.losses.deit_loss` restates DeiT's `DistillationLoss` (tested against it). Its soft
# term sums the KL and divides by batch x classes; the usual `batchmean` divides by the batch
# only. With $\lambda = 0.1$ and 10 classes, DeiT's normalisation weighs the soft term about
# $0.1 / 10 = 0.01$ against $0.9$ for the labels: "hard beats soft" could then mean "hard beats
# almost nothing". So soft distillation runs under both normalisations.
#
# The distillation token is timm's `VisionTransformerDistilled`: a second learned token beside the
# class token, with its own head. `DistilledViT` makes the two heads explicit: in training it
# returns both heads' logits, at test time the average of their softmaxes (or one head):
#
# ```{literalinclude} ../_src/kdutils/deit.py
# :pyobject: DistilledViT
# ```
#
# and the objective puts the labels on the class head and the teacher on the distillation head:
#
# ```{literalinclude} ../_src/kdutils/losses.py
# :pyobject: deit_loss
# ```

# %%
VIEWS = cfg.choose(smoke=2, cpu=3, gpu=5)
AUGMENT = Augmentation(shift=2, hflip=True, erase=0.25)
bank = view_bank(student_train, VIEWS, AUGMENT, seed=0)
SOFT = {"kind": "soft", "alpha": 0.1, "tau": 3.0}
HARD = {"kind": "hard", "alpha": 0.5}
VARIANTS = {  # name: (distillation token?, deit_objective's arguments, teacher)
    "no distillation": (False, {"kind": "none"}, None),
    "soft, DeiT's normalisation": (False, SOFT, "CNN"),
    "soft, batchmean": (False, SOFT | {"soft_reduction": "batchmean"}, "CNN"),
    "hard": (False, HARD, "CNN"),
    "hard + distillation token": (True, HARD, "CNN"),
    "hard + distillation token, ViT teacher": (True, HARD, "ViT"),
    "hard + distillation token, CNN with less data": (True, HARD, "CNN, less data"),
    "two class tokens (control)": (True, {"kind": "two-class", "alpha": 0.5}, None),
}
# over the bank: VIEWS passes over the images each
EPOCHS = cfg.choose(smoke=1, cpu=3, gpu=3)
shared = {
    "splits": splits,
    "train": bank,
    "caches": {
        name: TeacherCache(m, bank.x, device=device) for name, m in teachers.items()
    },
    # AdamW, cosine schedule, lr 2e-3, batch 128, DeiT's weight decay
    "training": fashion.student_training(epochs=EPOCHS, weight_decay=0.05),
    "device": device,
    "arch": fashion.DEIT_STUDENT,
    "teacher_test_logits": teacher_test_logits,
    "probe": splits.test.x[:512],
}
jobs = [
    {
        "seed": s,
        "variant": name,
        "token": token,
        "objective": objective,
        "teacher": teacher,
    }
    for name, (token, objective, teacher) in VARIANTS.items()
    for s in (cfg.seeds if name in PRIMARY_ARMS else cfg.exploratory_seeds)
]
runs = {}
for r in run_jobs(fashion.deit_job, jobs, shared, desc="students", device=device):
    runs.setdefault(r["variant"], []).append(r)
for rs in runs.values():
    rs.sort(key=lambda r: r["seed"])
scores = {
    (name, head): [r["heads"][head]["accuracy"] for r in rs]
    for name, rs in runs.items()
    for head in rs[0]["heads"]
}
correct = {
    (name, head): [r["heads"][head]["correct"] for r in rs]
    for name, rs in runs.items()
    for head in rs[0]["heads"]
}
similarity = {
    name: [r["similarity"] for r in rs]
    for name, rs in runs.items()
    if rs[0]["similarity"] is not None
}
steps = EPOCHS * -(-len(bank) // shared["training"]["batch_size"])
run.metrics["ablation"] = {f"{n} | {h}": v for (n, h), v in scores.items()}
run.metrics["token_similarity"] = similarity
run.metrics["student_steps"] = steps
print(
    f"{len(student_train)} training images, {VIEWS} views each ({AUGMENT.describe()}); "
    f"{steps} steps of {shared['training']['batch_size']} per student"
)

# %% tags=["hide-input"]
PAPER_TOP1 = {  # ImageNet top-1 [%]: (DeiT-B, DeiT-Ti), Touvron et al. 2021, Table 5
    ("no distillation", "class"): (81.8, 72.2),
    ("soft, DeiT's normalisation", "class"): (81.8, 72.2),
    ("hard", "class"): (83.0, 74.3),
    ("hard + distillation token", "class"): (83.0, 73.9),
    ("hard + distillation token", "distill"): (83.1, 74.6),
    ("hard + distillation token", "both"): (83.4, 74.5),
}
pd.DataFrame(
    [
        {
            "student": name,
            "head at inference": head,
            "test accuracy [%]": f"{100 * np.mean(v):.2f} "
            f"± {100 * np.std(v, ddof=1):.2f}",
            "seeds": len(v),
            "paper, DeiT-B [%]": PAPER_TOP1.get((name, head), ("—", "—"))[0],
            "paper, DeiT-Ti [%]": PAPER_TOP1.get((name, head), ("—", "—"))[1],
        }
        for (name, head), v in scores.items()
    ]
).set_index(["student", "head at inference"])

# %% mystnb={"figure": {"caption": "Test accuracy [%] of every student of the ablation, by the head used at inference (mean \u00b1 std over seeds); dashed lines are the teachers."}}
fig, ax = plt.subplots(figsize=(10, 4.6))
labels = [f"{n}\n[{h}]" for n, h in scores]
ax.bar(
    range(len(scores)),
    [100 * np.mean(v) for v in scores.values()],
    yerr=[100 * np.std(v, ddof=1) for v in scores.values()],
    capsize=4,
    color=[
        "C7" if "ViT" in n or "less" in n or "control" in n else "C0" for n, _ in scores
    ],
)
for (name, m), color in zip(teacher_test.items(), ("k", "C3", "C2")):
    ax.axhline(100 * m["accuracy"], ls="--", color=color, label=f"{name} teacher")
ax.set_xticks(range(len(scores)), labels, rotation=35, ha="right", fontsize=8)
low = min(100 * np.mean(v) for v in scores.values())
ax.set_ylim(max(0.0, low - 5), None)
ax.set_ylabel("test accuracy [%] (mean ± std over seeds)")
ax.set_title("DeiT ablation on Fashion-MNIST")
ax.legend(fontsize="small")
plt.show()

# %%
SCORING = (
    f"test accuracy at the last epoch of a cosine schedule of {steps} steps (AdamW), "
    f"on a bank of {VIEWS} views per image"
)


def headroom(teacher):
    return claims.headroom(
        teacher_test[teacher]["accuracy"],
        scores[("no distillation", "class")],
        teacher_on_students_images[teacher],
    )


def compare(claim_id, statement, measurement, treatment, control, teacher="CNN"):
    """A claim on per-image test scores, paired over the seeds both arms ran, tested
    where ``teacher`` is clearly better than the student trained without it."""
    a, b = correct[treatment], correct[control]
    n = min(len(a), len(b))
    run.add_claim(
        claims.compare(
            claim_id,
            statement,
            PAPER,
            measurement,
            a[:n],
            b[:n],
            scoring=SCORING,
            section="ch5-the-ablation",
            headroom=headroom(teacher),
        )
    )


compare(
    "distillation-beats-none",
    "A distilled transformer student beats the same transformer trained without "
    "distillation.",
    "test accuracy, hard + token (both heads) vs no distillation, paired by seed and "
    "test image",
    ("hard + distillation token", "both"),
    ("no distillation", "class"),
)
for variant in ("soft, DeiT's normalisation", "soft, batchmean"):
    compare(
        "hard-beats-soft" + ("-batchmean" if "batchmean" in variant else ""),
        f"For a transformer student, hard-label distillation beats soft distillation "
        f"({variant.split(', ')[1]}).",
        "test accuracy, class token only, hard vs soft (tau = 3, lambda = 0.1, "
        f"{variant}), "
        "CNN teacher, paired by seed and image",
        ("hard", "class"),
        (variant, "class"),
    )
compare(
    "distillation-token-adds",
    "The distillation token improves on hard distillation with the class token only.",
    "test accuracy, with the token (both heads) vs class token only, hard "
    "distillation, "
    "paired by seed and image",
    ("hard + distillation token", "both"),
    ("hard", "class"),
)
weaker = min(("ViT", "CNN, less data"), key=lambda name: teacher_test[name]["accuracy"])
compare(
    "cnn-teacher-beats-vit-teacher",
    "A convnet teacher gives a better transformer student than a transformer teacher "
    "of similar accuracy.",
    "test accuracy (both heads), hard distillation with token, CNN trained on less "
    "data vs ViT teacher, paired by seed and image",
    ("hard + distillation token, CNN with less data", "both"),
    ("hard + distillation token, ViT teacher", "both"),
    # the weaker teacher must be clearly better than the student too
    teacher=weaker,
)

# %% [markdown]
# (ch5-what-the-student-inherits)=
# ## What the student inherits from its teacher
#
# DeiT (section 4, Table 3) looks at *which* decisions a student shares with its teacher: the
# distillation head agrees with the convnet teacher more often than the class head does, and a
# student taught by the convnet agrees with convnets more than one taught by a transformer. We
# measure top-1 agreement with a teacher on every test image.


# %%
def agrees(variant, head, teacher):
    return [r["heads"][head]["agrees"][teacher] for r in runs[variant]]


rows = {}
for variant in (
    "no distillation",
    "hard + distillation token",
    "hard + distillation token, CNN with less data",
    "hard + distillation token, ViT teacher",
):
    for head in runs[variant][0]["heads"]:
        rows[f"{variant} [{head}]"] = {
            f"agreement with {t} [%]": 100 * np.mean(agrees(variant, head, t))
            for t in TEACHERS
        }
run.metrics["agreement"] = rows
AGREEMENT_CLAIMS = [  # (id, statement, measurement, treatment, control, teacher)
    (
        "distillation-head-agrees-with-teacher",
        "The distillation head agrees with the convnet teacher more often than the "
        "class head of the same student does.",
        "top-1 agreement with the CNN teacher on the test images, distillation head vs "
        "class head, hard + token, paired by seed and image",
        agrees("hard + distillation token", "distill", "CNN"),
        agrees("hard + distillation token", "class", "CNN"),
        "CNN",
    ),
    (
        "cnn-taught-agrees-with-cnn",
        "A student taught by a convnet agrees with that convnet more often than a "
        "student taught by a transformer of similar accuracy does.",
        "top-1 agreement with the CNN trained on less data, both heads, its student vs "
        "the ViT's student, paired by seed and image",
        agrees(
            "hard + distillation token, CNN with less data", "both", "CNN, less data"
        ),
        agrees("hard + distillation token, ViT teacher", "both", "CNN, less data"),
        weaker,
    ),
]
for claim_id, statement, measurement, treatment, control, teacher in AGREEMENT_CLAIMS:
    run.add_claim(
        claims.compare(
            claim_id,
            statement,
            "Touvron et al. 2021 (DeiT), sec. 4 and Table 3",
            measurement,
            treatment,
            control,
            scoring=SCORING,
            section="ch5-what-the-student-inherits",
            headroom=headroom(teacher),
        )
    )
pd.DataFrame(rows).transpose().round(1)

# %% [markdown]
# (ch5-what-the-tokens-learn)=
# ## What the tokens learn
#
# If the distillation token merely copied the class token it would add nothing. DeiT measures the
# cosine similarity between the two: 0.06 between the learned embeddings, rising through the
# network to 0.93 at the last layer — close, but not identical, since they aim at different
# targets. The control, two class tokens both trained on the labels, converges to 0.999.

# %% mystnb={"figure": {"caption": "Cosine similarity between the class token and the second token, from the embeddings through each transformer block, for the students with two tokens; the paper's values for reference."}}
fig, ax = plt.subplots(figsize=(7, 4))
for name, per_seed in similarity.items():
    curves = np.array(per_seed)
    layers = np.arange(curves.shape[1])
    ax.errorbar(
        layers,
        curves.mean(0),
        yerr=curves.std(0, ddof=1),
        marker="o",
        capsize=3,
        label=name,
    )
ax.axhline(
    0.93, color="k", ls=":", label="paper: class vs distillation token, last layer"
)
ax.axhline(0.999, color="k", ls="--", label="paper: two class tokens")
ax.set_xticks(layers, ["embed"] + [f"block {i}" for i in layers[1:]])
ax.set_xlabel("depth")
ax.set_ylabel("cosine similarity of the two tokens")
ax.set_title("Class vs distillation token, layer by layer")
ax.legend(fontsize="small")
plt.show()

# %% tags=["hide-input"]
last = {name: [r[-1] for r in per_seed] for name, per_seed in similarity.items()}
n_pairs = min(
    len(last["two class tokens (control)"]), len(last["hard + distillation token"])
)
run.add_claim(
    claims.compare(
        "distillation-token-differs",
        "The distillation token stays less similar to the class token than a second "
        "class token does.",
        PAPER,
        "last-layer cosine similarity: two class tokens (control) vs class and "
        "distillation tokens, paired by seed",
        last["two class tokens (control)"][:n_pairs],
        last["hard + distillation token"][:n_pairs],
        scoring="mean cosine similarity over 512 test images, at the last epoch",
        scale=1.0,
        unit="cosine",
        section="ch5-what-the-tokens-learn",
    )
)
pd.DataFrame(
    {
        "cosine, embeddings": {
            n: np.mean([r[0] for r in runs_]) for n, runs_ in similarity.items()
        },
        "cosine, last block": {n: np.mean(v) for n, v in last.items()},
        "std over seeds, last block": {n: np.std(v, ddof=1) for n, v in last.items()},
    }
).round(3)

# %% [markdown]
# (ch5-what-we-measured)=
# ## What we measured

# %% tags=["nbval-check-output"]
# Holm's correction for the primary claim, the results JSON, one line per claim
chapter.report(run)

# %% tags=["remove-cell"]
chapter.glue(
    teacher_acc_cnn=100 * teacher_test["CNN"]["accuracy"],
    teacher_acc_vit=100 * teacher_test["ViT"]["accuracy"],
    teacher_acc_cnn_less=100 * teacher_test["CNN, less data"]["accuracy"],
    **{
        f"acc_{key}": 100 * np.mean(scores[(name, head)])
        for key, name, head in (
            ("none", "no distillation", "class"),
            ("soft_deit", "soft, DeiT's normalisation", "class"),
            ("soft_batchmean", "soft, batchmean", "class"),
            ("hard", "hard", "class"),
            ("token", "hard + distillation token", "both"),
            ("token_vit", "hard + distillation token, ViT teacher", "both"),
            ("token_less", "hard + distillation token, CNN with less data", "both"),
        )
    },
    steps=steps,
    images=len(student_train),
    views=VIEWS,
)

# %% [markdown]
# (ch5-what-it-means)=
# ## What it means
#
# * **The teachers:** the convnet {glue:text}`teacher_acc_cnn:.1f`%, the ViT
#   {glue:text}`teacher_acc_vit:.1f`%, the convnet trained on less data
#   {glue:text}`teacher_acc_cnn_less:.1f`% test accuracy; the student without distillation
#   {glue:text}`acc_none:.1f`%. Each student took {glue:text}`steps` steps on
#   {glue:text}`images` images in {glue:text}`views` views each.
# * **Distillation against none** (primary), hard distillation with the token and the convnet
#   teacher, {glue:text}`acc_token:.1f`% against {glue:text}`acc_none:.1f`%:
#   {glue:text}`verdict-distillation-beats-none`.
# * **Hard against soft.** Hard ({glue:text}`acc_hard:.1f`%) against soft with DeiT's
#   normalisation ({glue:text}`acc_soft_deit:.1f`%): {glue:text}`verdict-hard-beats-soft`.
#   Against soft with `batchmean` ({glue:text}`acc_soft_batchmean:.1f`%), ten times the weight:
#   {glue:text}`verdict-hard-beats-soft-batchmean`.
# * **The distillation token** against hard distillation with the class token only:
#   {glue:text}`verdict-distillation-token-adds`. It stays less similar to the class token than
#   a second class token: {glue:text}`verdict-distillation-token-differs`.
# * **A convnet teacher against a transformer teacher of similar accuracy**
#   ({glue:text}`acc_token_less:.1f`% against {glue:text}`acc_token_vit:.1f`%):
#   {glue:text}`verdict-cnn-teacher-beats-vit-teacher`.
# * **What the student inherits.** The distillation head agrees with the convnet more than the
#   class head: {glue:text}`verdict-distillation-head-agrees-with-teacher`. A convnet-taught
#   student agrees with its convnet more than a ViT-taught one:
#   {glue:text}`verdict-cnn-taught-agrees-with-cnn`.
# * The paper's gaps are a point or two on ImageNet after 300 epochs: a verdict here speaks for
#   this setting (its data, schedule and teachers), not for DeiT's. A contradicted claim was
#   contradicted in this setting; an inconclusive one was not tested finely enough to tell.
