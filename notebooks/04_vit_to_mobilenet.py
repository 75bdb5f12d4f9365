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
# # Distilling a Vision Transformer into a MobileNetV2
#
# **The question.** Can a small convolutional network, trained from random weights, learn from a
# Vision Transformer {cite}`dosovitskiy2021vit` and end up better than the same network trained on
# the labels alone — and what does it buy at inference time? The Hugging Face Transformers guide
# on knowledge distillation answers with a ViT fine-tuned on the *beans* data set
# (`merve/beans-vit-224`) as teacher and a randomly initialised MobileNetV2
# {cite}`sandler2018mobilenetv2` as student, trained for 30 epochs with
#
# $$ \mathcal{L} = (1 - \lambda)\,\mathrm{CE}(s, y) + \lambda\, T^2\,
#    \mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big), \qquad T = 5,\ \lambda = 0.5, $$
#
# (`KLDivLoss(reduction="batchmean")`, exactly this book's `distillation_loss` with `alpha` = $\lambda$).
# It reports **72% test accuracy distilled vs 63% trained alone**.
#
# **How we run it.** The `gpu` profile runs the guide's own setup (beans and the pretrained teacher
# from the Hugging Face Hub, the `Trainer` with kdutils' `DistillationTrainer`, TensorBoard logs).
# Offline, the `cpu` profile keeps the recipe — ViT teacher, MobileNetV2 from scratch, $T = 5$,
# $\lambda = 0.5$, AdamW, scored at the last epoch of a cosine schedule — on real data that ships
# with the machine:
# Fashion-MNIST at 28 x 28. A small timm ViT trained here plays the pretrained teacher; like the
# guide's teacher, which had seen ImageNet-21k, it is trained on four times more images than the
# students get.

# %% tags=["parameters"]
profile = "cpu"
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from kdbook import chapter, claims, fashion
from kdbook.teachers import get_teacher, teacher_config
from kdutils import plots
from kdutils.evaluate import classification_metrics, count_flops, latency_ms
from kdutils.losses import kd_objective
from kdutils.models import count_parameters, mobilenet_v2_small_images
from kdutils.train import TeacherCache, fit, seed_everything

cfg, device, run = chapter.start("04_vit_to_mobilenet", profile, seed)
GUIDE = "Hugging Face Transformers guide: knowledge distillation for computer vision (seed 000)"
T, ALPHA = 5.0, 0.5  # the guide's temperature and lambda

# %% [markdown]
# (ch4-what-we-test-declared-before-the-runs)=
# ## What we test, declared before the runs
#
# One **primary claim**, the guide's: the distilled MobileNetV2 beats the same network trained
# alone. Its margin, fixed before the run, is half a point of test accuracy; it runs on every seed
# of the profile.
#
# A claim about what distillation does is tested only where its setting holds: a teacher clearly
# better than the student trained alone, its test error at most 0.6 times the student's (Hinton
# et al.'s MNIST teacher made 67 test errors against its student's 146). Each such claim records
# the teacher's test error, the student-alone error and the teacher's accuracy on the student's
# training images; without that headroom it is reported as *not testable here*, with its numbers.

# %%
run.declare_primary({"distilled-mobilenet-beats-alone": 0.005})

# %% [markdown]
# (ch4-the-guide-s-setup-gpu-profile)=
# ## The guide's setup (gpu profile)
#
# With the hub reachable and a GPU, this cell runs the guide itself for every seed: the same
# MobileNetV2 trained by `Trainer` alone and by `DistillationTrainer` (a `compute_loss` override
# with the signature current `transformers` expects; note that `Trainer` takes `args=`, where
# the guide writes `training_args=`). Offline it is skipped, and the rest of the chapter runs the
# same recipe on Fashion-MNIST.

# %%
guide_results = None
if cfg.name == "gpu":
    from kdutils import hf

    setup = (
        hf.load_guide_setup()
    )  # raises a clear error naming the cpu profile when the hub is unreachable
    guide_results = {
        kind: [
            hf.run_guide(
                setup,
                f"runs/beans-{kind}-{s}",
                s,
                epochs=30,
                temperature=T,
                alpha=ALPHA,
                distill=kind == "distilled",
            )
            for s in cfg.seeds
        ]
        for kind in ("alone", "distilled")
    }
    run.metrics["guide_route"] = guide_results
    print({k: np.mean([r["accuracy"] for r in v]) for k, v in guide_results.items()})

# %% [markdown]
# (ch4-data-and-teacher)=
# ## Data and teacher

# %%
splits, data_note = fashion.load_fashion(cfg)
student_train = fashion.student_train_split(cfg, splits)
teacher, teacher_extra, loaded = get_teacher("fashion-vit", cfg, splits)
teacher.to(device)
teacher_test = classification_metrics(
    teacher, splits.test.x, splits.test.y, device=device
)
teacher_on_students_images = classification_metrics(
    teacher, student_train.x, student_train.y, device=device
)["accuracy"]
run.data_source = splits.source
run.config = {
    "data": splits.summary(),
    "student_train": len(student_train),
    "teacher": teacher_config("fashion-vit", cfg, splits),
}
run.metrics["teacher_test"] = teacher_test
print(data_note)
print(
    f"teacher trains on {len(splits.train)} images, students on {len(student_train)}; "
    f"validation {len(splits.val)}, test {len(splits.test)}"
)
print(
    f"teacher {'loaded from the checkpoint cache' if loaded else 'trained'}: timm VisionTransformer, "
    f"{count_parameters(teacher) / 1e6:.2f} M parameters"
)

# %% tags=["nbval-check-output"]
print(
    f"ViT teacher test accuracy {teacher_test['accuracy']:.4f}, macro-F1 {teacher_test['macro_f1']:.4f}"
)

# %% [markdown]
# (ch4-the-student-torchvision-s-mobilenetv2-ad)=
# ## The student: torchvision's MobileNetV2, adapted to small images
#
# `torchvision.models.mobilenet_v2(weights=None)` is built for 224 px RGB images, which it shrinks
# 32-fold to a 7 x 7 map. Two changes fit it to 28 px grayscale: the stem convolution takes one
# channel, and the last downsampling stage keeps stride 1, so the final feature map is 2 x 2
# rather than a single pixel (a 28 px image halved five times). We use width multiplier 0.35 to
# keep it several times smaller than the teacher, and channels-last memory layout, which makes
# its convolutions several times faster on a CPU.

# %%
EPOCHS = cfg.choose(smoke=2, cpu=10, gpu=30)
# AdamW, cosine schedule, lr 2e-3, batch 128; channels-last for fast CPU convolutions
TRAIN = fashion.student_training(
    cfg, device, epochs=EPOCHS, weight_decay=0.01, channels_last=True
)
cache = TeacherCache(teacher, student_train.x, device=device)


def new_student():
    return mobilenet_v2_small_images(
        len(splits.classes), in_chans=splits.train.x.shape[1], width_mult=0.35
    )


results, histories, kept = {"alone": [], "distilled": []}, {}, {}
for s in cfg.seeds:
    for kind in ("alone", "distilled"):
        seed_everything(s)
        student = new_student()
        extra = (
            {"teacher": cache, "objective": kd_objective(ALPHA, T)}
            if kind == "distilled"
            else {}
        )
        history = fit(
            student,
            student_train,
            splits.val,
            seed=s,
            desc=f"{kind} seed {s}",
            **TRAIN,
            **extra,
        )
        results[kind].append(
            classification_metrics(student, splits.test.x, splits.test.y, device=device)
        )
        if s == cfg.seeds[0]:
            histories[f"MobileNetV2 {kind}"], kept[kind] = history.as_dict(), student
run.metrics["students"] = results


# %%
def mean_std(kind, key):
    values = [r[key] for r in results[kind]]
    return np.mean(values), np.std(values, ddof=1)


print(f"{'model':<28} {'test accuracy':<18} {'macro-F1':<18} guide (beans)")
print(
    f"{'ViT teacher':<28} {teacher_test['accuracy']:<18.4f} {teacher_test['macro_f1']:<18.4f} —"
)
for kind, guide in (("alone", "63%"), ("distilled", "72%")):
    (a, sa), (f, sf) = mean_std(kind, "accuracy"), mean_std(kind, "macro_f1")
    print(
        f"{'MobileNetV2 ' + kind:<28} {f'{a:.4f} ± {sa:.4f}':<18} {f'{f:.4f} ± {sf:.4f}':<18} {guide}"
    )

fig, ax = plt.subplots(figsize=(7, 4))
plots.training_curves(histories, ax=ax)
ax.axhline(
    teacher_extra["history"]["kept_val_accuracy"],
    color="k",
    ls="--",
    label="ViT teacher (validation)",
)
ax.set_title(f"Validation accuracy while training (seed {cfg.seeds[0]})")
ax.legend()
plt.show()

run.add_claim(
    claims.compare(
        "distilled-mobilenet-beats-alone",
        "The MobileNetV2 distilled from the ViT beats the same MobileNetV2 trained alone (72% vs 63% in the guide).",
        GUIDE,
        f"test accuracy, distilled (T = {T:g}, lambda = {ALPHA}) vs alone, same settings, paired by seed and test image",
        [r["correct"] for r in results["distilled"]],
        [r["correct"] for r in results["alone"]],
        scoring=f"test accuracy at the last epoch of a {EPOCHS}-epoch cosine schedule (AdamW)",
        section="ch4-the-student-torchvision-s-mobilenetv2-ad",
        headroom=claims.headroom(
            teacher_test["accuracy"],
            [r["accuracy"] for r in results["alone"]],
            teacher_on_students_images,
        ),
    )
)

# %% [markdown]
# (ch4-the-payoff-of-compression)=
# ## The payoff of compression
#
# What the student costs to run, next to the teacher: parameters, floating-point operations of
# one forward pass (counted by PyTorch's `FlopCounterMode`), and CPU latency — the median of
# repeated forward passes — for one image and for a batch of 64.

# %%
image_shape = tuple(splits.train.x.shape[1:])
models = {
    "ViT teacher": (teacher, teacher_test["accuracy"]),
    "MobileNetV2 alone": (kept["alone"], mean_std("alone", "accuracy")[0]),
    "MobileNetV2 distilled": (kept["distilled"], mean_std("distilled", "accuracy")[0]),
}
cost = {}
for name, (model, accuracy) in models.items():
    model.to("cpu")
    cost[name] = {
        "parameters": count_parameters(model),
        "mflops": count_flops(model, torch.zeros(1, *image_shape)) / 1e6,
        "latency_ms_b1": latency_ms(
            model,
            torch.zeros(1, *image_shape),
            repeats=cfg.choose(smoke=3, cpu=30, gpu=30),
        ),
        "latency_ms_b64": latency_ms(
            model,
            torch.zeros(64, *image_shape),
            repeats=cfg.choose(smoke=3, cpu=15, gpu=15),
        ),
        "accuracy": accuracy,
    }
run.metrics["cost"] = cost
print(f"CPU latency with {torch.get_num_threads()} thread(s)")
print(
    f"{'model':<24} {'params (M)':>10} {'MFLOPs':>8} {'ms, batch 1':>12} {'ms, batch 64':>13} {'accuracy':>9}"
)
for name, c in cost.items():
    print(
        f"{name:<24} {c['parameters'] / 1e6:>10.3f} {c['mflops']:>8.1f} {c['latency_ms_b1']:>12.2f} "
        f"{c['latency_ms_b64']:>13.2f} {c['accuracy']:>9.4f}"
    )

fig, ax = plt.subplots(figsize=(7, 4))
for name, c in cost.items():
    ax.scatter(
        c["latency_ms_b64"] / 64,
        c["accuracy"],
        s=40 + c["parameters"] / 2e4,
        label=name,
    )
ax.set_xlabel("CPU latency per image at batch 64 [ms]")
ax.set_ylabel("test accuracy (students: mean over seeds)")
ax.set_title("Accuracy vs latency (marker area ~ parameters)")
ax.legend()
plt.show()

# %% [markdown]
# (ch4-what-we-measured)=
# ## What we measured

# %% tags=["nbval-check-output"]
# Holm's correction for the primary claim, the results JSON, one line per claim
chapter.report(run)

# %% [markdown]
# (ch4-what-it-means)=
# ## What it means
#
# Written by the run from its own numbers:

# %%
from IPython.display import Markdown

claim = run.claims[0]
(alone_acc, _), (dist_acc, _) = (
    mean_std("alone", "accuracy"),
    mean_std("distilled", "accuracy"),
)
t_cost, s_cost = cost["ViT teacher"], cost["MobileNetV2 distilled"]
Markdown(
    "\n".join(
        [
            f"* **Distilled vs alone:** {dist_acc:.1%} vs {alone_acc:.1%} test accuracy (mean of {len(cfg.seeds)} seeds), "
            f"teacher {teacher_test['accuracy']:.1%}; the guide reports 72% vs 63% on beans. Verdict: "
            f"{claims.verdict_sentence(claim)}.",
            f"* **Cost:** the student has {t_cost['parameters'] / s_cost['parameters']:.1f}x fewer parameters and "
            f"{t_cost['mflops'] / s_cost['mflops']:.1f}x fewer FLOPs than the teacher; on this CPU it runs a batch of 64 in "
            f"{s_cost['latency_ms_b64']:.1f} ms against {t_cost['latency_ms_b64']:.1f} ms, and one image in "
            f"{s_cost['latency_ms_b1']:.2f} ms against {t_cost['latency_ms_b1']:.2f} ms.",
            "* A distilled student is worth what its teacher knows beyond the student's own data: the guide's teacher was "
            "pretrained on ImageNet-21k; ours has only seen four times more Fashion-MNIST images than the students.",
            "* kdutils' loss and loop take torchvision, timm and Hugging Face classifiers alike (outputs as tensors or as "
            "objects with `.logits`); `tests/test_hf.py` trains tiny random Hugging Face models through both routes offline.",
        ]
    )
)
