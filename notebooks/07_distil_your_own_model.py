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
# # Distil your own model
#
# **The question.** You have a folder of images and a model that does well on them; you want a
# small model that does nearly as well. This page runs the book's recipe on *your* folder: a
# teacher, a torchvision MobileNetV2 {cite}`sandler2018mobilenetv2` trained alone and distilled
# with Hinton's loss {cite}`hinton2015distilling`,
#
# $$ \mathcal{L} = (1 - \alpha)\,\mathrm{CE}(s, y) + \alpha\, T^2\,
#    \mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big), $$
#
# and a comparison of the two on your test images.
#
# **Your folder.** The images go in `train/<class>/` (any format Pillow reads), with optional
# `val/<class>/` and `test/<class>/`; without `val/`, a tenth of `train/` is held out. They are
# read one at a time from disk while training (a `torch.utils.data.Dataset`, so a folder larger
# than memory is fine), converted to `image_mode` and resized to `image_size`.
#
# **Running it on your folder.** Every setting below is a papermill parameter:
#
# ```bash
# papermill notebooks/07_distil_your_own_model.ipynb my_run.ipynb \
#     -p data_dir path/to/images -p teacher resnet18 -p teacher_epochs 30 \
#     -p image_mode RGB -p image_size 64 -p student_epochs 60
# ```
#
# `teacher` is a torchvision architecture trained here on your training images, or a model file
# you give: a `state_dict` of a torchvision architecture (`teacher_arch`), or a whole model saved
# with `torch.save(model, path)` (`trusted_checkpoint=True`: unpickling runs code, so only for
# files you made). Its outputs must follow the folder's classes in sorted order, the order in
# which torchvision's `ImageFolder` numbers them. With no folder given, the book makes one from
# Fashion-MNIST (chapter 4's students' images) and gives its chapter-4 convnet teacher as a
# checkpoint file, so the page runs offline.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
data_dir = (
    ""  # train/<class>/ (val/, test/ optional); empty: a Fashion-MNIST demo folder
)
teacher = "resnet18"  # a torchvision architecture, or the path of a model file
teacher_arch = ""  # the torchvision architecture of a state_dict file
teacher_kwargs = {}  # its constructor arguments as trained, e.g. {"width_mult": 0.5}
trusted_checkpoint = False  # a whole pickled model: load it only if you made it
teacher_epochs = None  # None: the profile's
student = "mobilenet_v2"  # a torchvision architecture
student_kwargs = {"width_mult": 0.35}  # its constructor's arguments
student_epochs = None  # None: the profile's
seeds = 2  # students per arm
image_mode = "L"  # "RGB" or "L" (one channel)
image_size = 28  # pixels, square
T, alpha = 4.0, 0.5
batch_size = 64
lr = 2e-3

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from torchvision.transforms import v2

import kdutils
from kdbook import chapter, claims
from kdutils import plots
from kdutils.evaluate import predict_dataset
from kdutils.folders import image_folder_datasets
from kdutils.models import count_parameters, load_classifier, torchvision_classifier

cfg, device, run = chapter.start("07_distil_your_own_model", profile, seed)
TEACHER_EPOCHS = teacher_epochs or cfg.choose(smoke=1, cpu=10, gpu=30)
STUDENT_EPOCHS = student_epochs or cfg.choose(smoke=2, cpu=10, gpu=20)
SEEDS = [seed + i for i in range(seeds)]

# %% [markdown]
# (ch7-your-images)=
# ## Your images

# %% tags=["hide-input"]
if not data_dir:  # the demo: a Fashion-MNIST folder, and the book's teacher as a file
    from kdbook import demo

    data_dir, teacher, data_note = demo.fashion_folder_and_teacher(cfg)
    trusted_checkpoint = True  # the book wrote this file a moment ago
else:
    data_note = f"the image folder {data_dir}"

# %% [markdown]
# The folder becomes three datasets of `(image, label)` pairs, decoded on demand; the test set is
# `test/` (without one, the validation images stand in, and the tables say test).

# %%
data = image_folder_datasets(
    data_dir, image_size=image_size, image_mode=image_mode, seed=seed
)
test_set = data.test if data.test is not None else data.val
in_chans = 1 if image_mode == "L" else 3
num_classes = len(data.classes)
pd.DataFrame(
    {
        name: {"images": len(split)}
        for name, split in (
            ("train", data.train),
            ("val", data.val),
            ("test", test_set),
        )
    }
).transpose().assign(classes=num_classes)

# %% [markdown]
# (ch7-the-teacher)=
# ## The teacher
#
# A model file is loaded with `kdutils.models.load_classifier`; an architecture name is built by
# `kdutils.models.torchvision_classifier` (any name of `torchvision.models.list_models()`, sized
# for your classes and channels) and trained here with `kdutils.fit`, which streams the folder.

# %%
fit_settings = dict(
    lr=lr,
    batch_size=batch_size,
    schedule="cosine",
    weight_decay=0.05,
    progress=False,
)
if Path(teacher).is_file():
    teacher_model = load_classifier(
        teacher,
        arch=teacher_arch or None,
        num_classes=num_classes,
        in_chans=in_chans,
        trusted=trusted_checkpoint,
        **teacher_kwargs,
    )
    teacher_note = f"loaded from {Path(teacher).name}"
else:
    kdutils.seed_everything(seed)
    teacher_model = torchvision_classifier(
        teacher, num_classes, in_chans, **teacher_kwargs
    ).to(device)
    kdutils.fit(
        teacher_model,
        data.train,
        data.val,
        epochs=TEACHER_EPOCHS,
        seed=seed,
        **fit_settings,
    )
    teacher_note = f"{teacher} trained here for {TEACHER_EPOCHS} epochs"
teacher_model.to(device).eval()
teacher_logits, test_labels = predict_dataset(teacher_model, test_set, device=device)
if teacher_logits.shape[1] != num_classes:
    raise ValueError(
        f"the teacher has {teacher_logits.shape[1]} outputs; the folder has "
        f"{num_classes} classes: {data.classes}"
    )
teacher_accuracy = (teacher_logits.argmax(1) == test_labels).float().mean().item()
print(
    f"teacher: {teacher_note}, {count_parameters(teacher_model) / 1e6:.2f} M parameters"
)

# %% [markdown]
# (ch7-the-teacher-s-logits-once)=
# ## The teacher's logits, once
#
# Your training images do not change between epochs, so neither do the teacher's logits on
# them: `TeacherCache` computes them once, by dataset index, and the student's epochs never run
# the teacher. That holds only while the images are the same every time they are loaded; with a
# random transform in the dataset (a flip, a crop) the cache would hand the student logits of
# other images, so it refuses, and says what to do instead:

# %%
cache = kdutils.TeacherCache(teacher_model, data.train, device=device)
flipped = image_folder_datasets(
    data_dir,
    image_size=image_size,
    image_mode=image_mode,
    seed=seed,
    train_transform=v2.RandomHorizontalFlip(),
)
try:
    kdutils.TeacherCache(teacher_model, flipped.train)
except ValueError as refusal:
    print(f"refused: {refusal}")

# %% [markdown]
# (ch7-the-student-alone-and-distilled)=
# ## The student, alone and distilled
#
# The same MobileNetV2, built from the same seed, trained for the same steps on the same images:
# once with the labels only, once with the loss above. `History` logs each epoch's training loss
# (for the distilled student, `distillation_loss`: the labels' cross-entropy and $T^2$ times the
# KL divergence from the teacher, weighted) and the validation accuracy.

# %%
kd = kdutils.kd_objective(alpha=alpha, T=T)
results = {}
for s in SEEDS:
    for arm in ("alone", "distilled"):
        # fit's seed orders the batches; this one the weights
        kdutils.seed_everything(s)
        model = torchvision_classifier(student, num_classes, in_chans, **student_kwargs)
        # on the device, its convolutions channels-last (faster on a CPU)
        model.to(device, memory_format=torch.channels_last)
        distill = {"objective": kd, "teacher": cache} if arm == "distilled" else {}
        history = kdutils.fit(
            model,
            data.train,
            data.val,
            epochs=STUDENT_EPOCHS,
            seed=s,
            **distill,
            **fit_settings,
        )
        logits, _ = predict_dataset(model, test_set, device=device)
        correct = (logits.argmax(1) == test_labels).numpy().astype("uint8")
        agrees = (logits.argmax(1) == teacher_logits.argmax(1)).float().mean().item()
        results.setdefault(arm, []).append(
            {"correct": correct, "agreement": agrees, "history": history.as_dict()}
        )
student_parameters = count_parameters(model)


def mean_accuracy(arm):
    return 100 * sum(r["correct"].mean() for r in results[arm]) / len(results[arm])


summary = pd.DataFrame(
    {
        "teacher": {
            "parameters [M]": count_parameters(teacher_model) / 1e6,
            "test accuracy [%]": 100 * teacher_accuracy,
            "agreement with teacher [%]": None,
        },
        **{
            f"{student} {arm}": {
                "parameters [M]": student_parameters / 1e6,
                "test accuracy [%]": mean_accuracy(arm),
                "agreement with teacher [%]": 100
                * sum(r["agreement"] for r in results[arm])
                / len(results[arm]),
            }
            for arm in ("alone", "distilled")
        },
    }
).transpose()
summary.round(2)

# %% mystnb={"figure": {"caption": "Left: validation accuracy of the first seed's students by epoch. Right: their training loss by epoch (the distilled student's is the combined objective)."}}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
plots.training_curves({arm: results[arm][0]["history"] for arm in results}, ax=left)
left.set_title("validation accuracy")
plots.training_curves(
    {arm: results[arm][0]["history"] for arm in results}, key="train_loss", ax=right
)
right.set_title("training loss (distilled: the combined objective)")
plt.tight_layout()
plt.show()

# %% [markdown]
# (ch7-what-we-measured)=
# ## What we measured
#
# One claim, tested like the book's others: paired by seed and test image, with an interval, and
# only where the teacher is clearly better than the student alone (its error at most 0.6 times
# the student's: otherwise there is nothing for the student to learn from it, and the claim says
# *not testable here*).

# %% tags=["nbval-check-output"]
run.data_source = data_note
run.config = {
    "classes": data.classes,
    "images": {"train": len(data.train), "val": len(data.val), "test": len(test_set)},
    "teacher": teacher_note,
    "student": {"arch": student, **student_kwargs},
    "epochs": STUDENT_EPOCHS,
    "T": T,
    "alpha": alpha,
}
run.metrics["teacher_test_accuracy"] = teacher_accuracy
run.metrics["students"] = {
    arm: [r["correct"].mean().item() for r in rs] for arm, rs in results.items()
}
teacher_on_train = (cache.logits.argmax(1) == cache.labels).float().mean().item()
run.add_claim(
    claims.compare(
        "your-distilled-student-beats-alone",
        "On this folder, the distilled student beats the same student trained alone.",
        "Hinton, Vinyals & Dean 2015",
        f"test accuracy, distilled (T = {T:g}, alpha = {alpha}) vs alone, paired by "
        "seed and test image",
        [r["correct"] for r in results["distilled"]],
        [r["correct"] for r in results["alone"]],
        scoring=f"test accuracy at the last epoch of a {STUDENT_EPOCHS}-epoch cosine "
        "schedule (AdamW)",
        section="ch7-the-student-alone-and-distilled",
        headroom=claims.headroom(
            teacher_accuracy,
            [r["correct"].mean() for r in results["alone"]],
            teacher_on_train,
        ),
    )
)
chapter.report(run)

# %% tags=["remove-cell"]
chapter.glue(
    teacher_acc=100 * teacher_accuracy,
    alone_acc=mean_accuracy("alone"),
    distilled_acc=mean_accuracy("distilled"),
    n_seeds=len(SEEDS),
    n_train=len(data.train),
    n_test=len(test_set),
)

# %% [markdown]
# (ch7-what-it-means)=
# ## What it means
#
# On these {glue:text}`n_train` training images the teacher reaches
# {glue:text}`teacher_acc:.1f`% on {glue:text}`n_test` test images; the student trained alone
# {glue:text}`alone_acc:.1f`% and distilled {glue:text}`distilled_acc:.1f`% (mean of
# {glue:text}`n_seeds` seeds). Verdict:
# {glue:text}`verdict-your-distilled-student-beats-alone`. With two seeds per arm the interval is
# wide: the spread between seeds is known from a single difference. For a result to act on, run
# five seeds (`-p seeds 5`) and a schedule long enough for the students to settle.
#
# On your own folder, the book's chapters suggest what to try when distillation does not help:
# a teacher clearly better than the student (chapter 2's headroom rule), a schedule long enough
# for the student to follow its teacher (chapter 4: the gain can appear only at long schedules),
# a moderate temperature for a small student (chapter 3), and augmented views that the teacher
# labels too (a fixed bank of views, `kdutils.view_bank`, keeps its logits cacheable). The
# {doc}`API reference <../book/api>` lists every function used here and how the same run reads
# in Hugging Face's `Trainer`, torchdistill and Keras.
