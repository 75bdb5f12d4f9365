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
# **The question.** You have a folder of images and a model that does well on them; you
# want a smaller, faster model that does nearly as well. Will distilling the big model
# into the small one {cite}`hinton2015distilling` beat training the small one on the
# labels alone, on *your* images? This page answers it for your folder, with the book's
# recipe:
#
# 1. **check the teacher first**: is it clearly better than the student trained alone?
#    If not, it has little to teach, and the book does not expect distillation to help;
# 2. **distil** the student with Hinton's loss, the teacher's logits computed once,
#
#    $$ \mathcal{L} = (1 - \alpha)\,\mathrm{CE}(s, y) + \alpha\, T^2\,
#       \mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big); $$
#
# 3. **compare** it with the same student trained alone, over several seeds, on your
#    test images, and read the verdict as the book reads its own.
#
# **Your folder.** The images go in `train/<class>/` (any format Pillow reads), with
# optional `val/<class>/` and `test/<class>/`; without `test/`, a fifth of `train/` is
# held out for testing, and without `val/`, a tenth of the rest for validation. Folders
# and files whose names start with a dot (`.ipynb_checkpoints`) are skipped; a class
# folder without images is an error, since it would shift every label after it.
#
# **Running it on your folder.** Every setting below is a papermill parameter:
#
# ```bash
# papermill notebooks/07_distil_your_own_model.ipynb my_run.ipynb \
#     -p data_dir path/to/images -p teacher resnet18 -p teacher_epochs 30 \
#     -p image_mode RGB -p image_size 64 -p student resnet18 \
#     -p student_kwargs '{"width_per_group": 16}'
# ```
#
# `teacher` is a torchvision architecture trained here on your training images (and
# cached, keyed by those images), or a model file you give: a `state_dict` of a
# torchvision architecture (`teacher_arch`), or a whole model saved with
# `torch.save(model, path)` (`trusted_checkpoint=True`: unpickling runs code, so only
# for files you made). Its outputs must follow the folder's classes in sorted order, the
# order in which torchvision's `ImageFolder` numbers them. `student` is `"mlp"`
# (kdutils' MLP, `student_kwargs` its hidden layers) or a torchvision architecture. With
# no folder given, the book makes one from Fashion-MNIST (chapter 4's students' images
# and the official test set) and hands over its chapter-5 convnet teacher as a model
# file, so the page runs offline.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
data_dir = (
    ""  # train/<class>/ (val/, test/ optional); empty: a Fashion-MNIST demo folder
)
in_memory = True  # False: stream the images from disk (a folder larger than memory)
teacher = "resnet18"  # a torchvision architecture, or the path of a model file
teacher_arch = ""  # the torchvision architecture of a state_dict file
teacher_kwargs = {}  # its constructor arguments as trained, e.g. {"width_mult": 0.5}
trusted_checkpoint = False  # a whole pickled model: load it only if you made it
teacher_epochs = None  # None: the profile's
checkpoints = ""  # where a teacher trained here is cached; "": $KD_CHECKPOINTS
student = "mlp"  # "mlp", or a torchvision architecture
student_kwargs = {
    "hidden": [32]
}  # the MLP's hidden layers, or the constructor's arguments
student_epochs = None  # None: the profile's
seeds = None  # students per arm; None: the profile's (5 under cpu)
image_mode = "L"  # "RGB" or "L" (one channel)
image_size = None  # pixels, square; None: the images' own size (all the same)
T, alpha = 2.0, 0.5
batch_size = 64
lr = 2e-3

# %% tags=["hide-input"]
import shutil
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torchvision.transforms import v2

import kdutils
from kdbook import chapter, claims
from kdbook.sweep import sweep
from kdutils import plots
from kdutils.evaluate import latency_ms, predict
from kdutils.losses import cross_entropy_objective
from kdutils.models import (
    count_parameters,
    load_classifier,
    mlp,
    torchvision_classifier,
)

cfg, device, run = chapter.start("07_distil_your_own_model", profile, seed)
TEACHER_EPOCHS = teacher_epochs or cfg.choose(smoke=1, cpu=10, gpu=30)
STUDENT_EPOCHS = student_epochs or cfg.choose(smoke=2, cpu=100, gpu=100)
SEEDS = [seed + s for s in (cfg.seeds if seeds is None else range(seeds))]
# the first seed's students are validated this often, for their curves
CURVE_EVERY = max(1, STUDENT_EPOCHS // 10)
ARMS = ("alone", "distilled")

# %% [markdown]
# (ch7-what-we-test)=
# ## What we test, declared before the runs
#
# One claim, **primary**: on this folder, the distilled student beats the same student
# trained alone, by more than the margin that matters (half a point of test accuracy).
# It is tested like the book's others, paired by seed and test image, and only where the
# teacher is clearly better than the student alone (its test error at most 0.6 times the
# student's: the *headroom* rule); otherwise it is reported as *not testable here*, with
# its numbers.

# %% tags=["remove-input"]
chapter.plan(
    run,
    [
        claims.Planned(
            "your-distilled-student-beats-alone",
            "On this folder, the distilled student beats the same student trained "
            "alone.",
            "Hinton, Vinyals & Dean 2015",
            "distilled",
            "alone",
            margin=0.005,
            primary=True,
            measurement=f"test accuracy, distilled (T = {T:g}, alpha = {alpha:g}) vs "
            "alone, paired by seed and test image",
        )
    ],
)

# %% [markdown]
# (ch7-your-images)=
# ## Your images
#
# The folder is read once into memory, as tensors (`load_splits`), or, for a folder
# larger than memory, streamed from disk one image at a time (`image_folder_datasets`,
# with `in_memory=False`). Both readers follow the same rules and hold out the same
# images, and `fit` draws the same batches from either: the numbers below do not depend
# on the choice, only the time does (a streamed `DataLoader` of your own, with its own
# sampler, draws other batches and so gives other numbers, as good). Every image is
# converted to `image_mode`; with `image_size` it is resized to a square (a warning says
# when that squashes an image); without it, the images keep their size, which must then
# be the same for all of them.

# %% tags=["hide-input"]
if not data_dir:  # the demo: a Fashion-MNIST folder, and the book's teacher as a file
    from kdbook import demo

    data_dir, teacher, data_note = demo.fashion_folder_and_teacher(cfg)
    demo_folder = data_dir  # written for this run: removed at the end of the page
    trusted_checkpoint = True  # the book wrote this file a moment ago
else:
    data_note, demo_folder = f"the image folder {data_dir}", None

# %%
read = dict(image_size=image_size, image_mode=image_mode)
if in_memory:
    data = kdutils.load_splits("imagefolder", path=data_dir, **read)
else:
    data = kdutils.image_folder_datasets(data_dir, **read)
image_shape = tuple((data.train.x if in_memory else data.train[0])[0].shape)
num_classes, in_chans = len(data.classes), image_shape[0]
pd.DataFrame(
    {name: {"images": len(getattr(data, name))} for name in ("train", "val", "test")}
).transpose().assign(classes=num_classes, image=" x ".join(map(str, image_shape)))

# %% [markdown]
# (ch7-the-teacher)=
# ## The teacher
#
# A model file is loaded with `kdutils.models.load_classifier`. An architecture name is
# built by `kdutils.models.torchvision_classifier` (any name of
# `torchvision.models.list_models()`, sized for your classes and channels) and trained
# here with `kdutils.fit` through `kdutils.cached_model`: the checkpoint is keyed by the
# teacher's settings *and by a fingerprint of your images and labels*, so a second run
# on the same folder loads it, and a run after you change one image trains it again.

# %%
training = dict(lr=lr, batch_size=batch_size, schedule="cosine", weight_decay=0.01)
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

    def build_teacher():
        kdutils.seed_everything(seed)
        model = torchvision_classifier(teacher, num_classes, in_chans, **teacher_kwargs)
        return model.to(device)

    def train_teacher(model):
        history = kdutils.fit(
            model, data.train, data.val, epochs=TEACHER_EPOCHS, seed=seed, **training
        )
        return {"history": history.as_dict()}

    settings = {"arch": teacher, "kwargs": teacher_kwargs, "epochs": TEACHER_EPOCHS}
    teacher_model, _, cached = kdutils.cached_model(
        f"own-teacher-{teacher}",
        {**settings, **read, **training, "seed": seed},
        build_teacher,
        train_teacher,
        folder=checkpoints or None,
        data=data,
    )
    teacher_note = f"{teacher} trained here for {TEACHER_EPOCHS} epochs" + (
        ", loaded from the checkpoint cache" if cached else ""
    )
teacher_model.to(device).eval()
print(f"teacher: {teacher_note}")

# %% [markdown]
# (ch7-check-the-teacher-first)=
# ## Check the teacher first
#
# Before distilling anything, `kdutils.check_teacher` scores the teacher on the test
# images beside the student trained alone on the labels, with the recipe the student
# will get below, and applies the book's rule. A teacher that fails it gets a loud
# warning with the numbers (you would then want a stronger teacher, not a distillation
# run); here it also makes the claim *not testable here*. The student is built by a
# function, so that every run starts from a fresh one:


# %%
def build_student():
    """A fresh, untrained student for these images and classes."""
    if student == "mlp":
        return mlp(int(np.prod(image_shape)), num_classes=num_classes, **student_kwargs)
    model = torchvision_classifier(student, num_classes, in_chans, **student_kwargs)
    return model.to(memory_format=torch.channels_last)  # faster convolutions on a CPU


check = kdutils.check_teacher(
    teacher_model,
    data,
    lambda: build_student().to(device),
    epochs=STUDENT_EPOCHS,
    seed=SEEDS[0],
    progress=False,
    **training,
)
print(check)

# %% [markdown]
# (ch7-the-student-alone-and-distilled)=
# ## The student, alone and distilled
#
# The teacher's logits on your training images do not change between epochs:
# `TeacherCache` computes them once, and the student's epochs never run the teacher.
# Then one function trains one student, from one seed (its initial weights and its
# batches), alone or distilled, and scores it on the test images; the sweep calls it for
# every seed and arm, side by side on the CPU's cores.

# %%
cache = kdutils.TeacherCache(teacher_model, data.train.x if in_memory else data.train)
teacher_test_logits, _ = predict(teacher_model, data.test)
kd = kdutils.kd_objective(alpha=alpha, T=T)


def distil(arm: str, seed: int) -> dict:
    """One student, trained alone or distilled, scored once on the test images."""
    kdutils.seed_everything(seed)  # the initial weights
    model = build_student().to(device)
    distilled = arm == "distilled"
    history = kdutils.fit(
        model,
        data.train,
        data.val,
        epochs=STUDENT_EPOCHS,
        objective=kd if distilled else cross_entropy_objective,
        teacher=cache if distilled else None,
        eval_every=CURVE_EVERY if seed == SEEDS[0] else STUDENT_EPOCHS,
        seed=seed,  # the batches
        progress=False,
        **training,
    )
    scores = kdutils.classification_metrics(
        model, data.test, teacher_logits=teacher_test_logits
    )
    first = seed == SEEDS[0]  # its curves and its size are shown
    return scores | {"history": history.as_dict(), "model": model if first else None}


calls = [{"arm": arm, "seed": s} for s in SEEDS for arm in ARMS]
results = {arm: [] for arm in ARMS}
for call, scores in zip(calls, sweep(distil, calls, desc="students", device=device)):
    results[call["arm"]].append(scores)

# %% [markdown]
# A cache holds the teacher's logits on fixed images. With a random transform in a
# streamed dataset (a flip, a crop) the images change every time they are loaded and the
# cached logits would belong to other images, so `TeacherCache` refuses, and says what
# to do instead:

# %%
flipped = kdutils.image_folder_datasets(
    data_dir, **read, train_transform=v2.RandomHorizontalFlip()
)
try:
    kdutils.TeacherCache(teacher_model, flipped.train)
except ValueError as refusal:
    print(textwrap.fill(f"refused: {refusal}", 88))

# %% [markdown]
# (ch7-what-we-measured)=
# ## What we measured
#
# Size and speed first: parameters, and the median time of one forward pass over a batch
# of (up to) 64 test images on this machine ({glue:text}`threads` thread(s), beside whatever
# else ran). Then test accuracy, the mean over {glue:text}`n_seeds` seeds, and how often
# each student predicts the teacher's class.

# %% tags=["remove-input"]
n = min(64, len(data.test))
batch = torch.stack(
    [data.test.x[i] if in_memory else data.test[i][0] for i in range(n)]
)
models = {"teacher": teacher_model, "student": results["distilled"][0]["model"]}
sizes = {
    name: {"parameters": count_parameters(model), "ms": latency_ms(model.cpu(), batch)}
    for name, model in models.items()
}


def accuracy(arm):
    """Per seed, the student's test accuracy in %."""
    return 100 * np.array([r["accuracy"] for r in results[arm]])


def row(name, accuracy, agreement):
    return {
        "parameters": f"{sizes[name]['parameters']:,}",
        "latency [ms / batch]": f"{sizes[name]['ms']:.2f}",
        "test accuracy [%]": accuracy,
        "agrees with the teacher [%]": agreement,
    }


rows = {"teacher": row("teacher", f"{100 * check.teacher_accuracy:.2f}", "–")}
for arm in ARMS:
    scores, agrees = accuracy(arm), [r["agreement"] for r in results[arm]]
    rows[f"student, {arm}"] = row(
        "student",
        f"{scores.mean():.2f} ± {scores.std(ddof=1):.2f}",
        f"{100 * np.mean(agrees):.2f}",
    )
pd.DataFrame(rows).transpose()

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first seed's students by epoch: validation accuracy (left) and the training images' cross-entropy with the labels (right), which compares the two arms although the distilled student minimises another loss."}, "image": {"alt": "Two line plots against epoch for the student alone and the distilled student: validation accuracy rising to its final level on the left, training cross-entropy with the labels falling on the right."}}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
curves = {arm: results[arm][0]["history"] for arm in ARMS}
plots.training_curves(curves, ax=left).set_title("validation accuracy")
plots.training_curves(curves, key="train_ce", ax=right).set_title(
    "training cross-entropy with the labels"
)
plt.tight_layout()
plt.show()

# %% tags=["remove-cell"]
# the cache holds the teacher's logits on the training images: no second pass over them
train_labels = data.train.y if in_memory else cache.labels
teacher_train_accuracy = kdutils.evaluate.accuracy(cache.logits, train_labels)
run.data_source = data_note
run.config = {
    "classes": data.classes,
    "images": {name: len(getattr(data, name)) for name in ("train", "val", "test")},
    "image_shape": list(image_shape),
    "in_memory": in_memory,
    "teacher": teacher_note,
    "student": {"arch": student, **student_kwargs},
    "epochs": STUDENT_EPOCHS,
    "T": T,
    "alpha": alpha,
    "training": training,
}
run.metrics["teacher_check"] = vars(check)
run.metrics["sizes"] = sizes
run.metrics["students"] = {
    arm: [{k: r[k] for k in ("accuracy", "agreement", "correct")} for r in rs]
    for arm, rs in results.items()
}
run.compare(
    "your-distilled-student-beats-alone",
    [r["correct"] for r in results["distilled"]],
    [r["correct"] for r in results["alone"]],
    scoring=f"test accuracy at the last epoch of a {STUDENT_EPOCHS}-epoch cosine "
    "schedule (AdamW)",
    section="ch7-what-we-measured",
    headroom=claims.headroom(
        check.teacher_accuracy, accuracy("alone") / 100, teacher_train_accuracy
    ),
)

# %% tags=["remove-input", "nbval-check-output"]
chapter.report(run)

# %% tags=["remove-cell"]
chapter.glue(
    threads=torch.get_num_threads(),
    n_seeds=len(SEEDS),
    n_train=len(data.train),
    n_test=len(data.test),
    teacher_acc=100 * check.teacher_accuracy,
    alone_acc=accuracy("alone").mean(),
    distilled_acc=accuracy("distilled").mean(),
    size_ratio=sizes["teacher"]["parameters"] / sizes["student"]["parameters"],
    speed_ratio=sizes["teacher"]["ms"] / sizes["student"]["ms"],
    headroom_reading="passed" if check.headroom else "failed",
)
if demo_folder:
    shutil.rmtree(demo_folder)

# %% [markdown]
# (ch7-what-it-means)=
# ## What it means
#
# On these {glue:text}`n_train` training images the teacher reaches
# {glue:text}`teacher_acc:.1f`% on {glue:text}`n_test` test images; the student, with
# {glue:text}`size_ratio:.1f` times fewer parameters and {glue:text}`speed_ratio:.0f`
# times faster here, reaches {glue:text}`alone_acc:.1f`% trained alone and
# {glue:text}`distilled_acc:.1f`% distilled (means over {glue:text}`n_seeds` seeds). The
# teacher {glue:text}`headroom_reading` the check. Distilled against alone:
# {glue:text}`verdict-your-distilled-student-beats-alone`.
#
# *Reproduced* means the distilled student was better by an amount the seeds and the
# test images cannot explain; *no effect*, that any difference is smaller than half a
# point; *inconclusive*, that this run cannot tell (more test images or more seeds
# narrow the interval); *not testable here*, that the teacher failed the check, so the
# comparison says nothing about distillation.
#
# **What the book's runs suggest when it does not help.** Each of these is a verdict of
# the book's own runs, quoted from the chapter that measured it (the {doc}`When to
# distil <../book/when-to-distil>` page gathers them all, with the numbers):
#
# * *A teacher clearly better than the student* is the first condition, and this page
#   checks it for you. Even with one, a small student can fail to follow: in chapter 6,
#   a 20-20 MLP distilled from a convnet against the same student alone:
#   {glue:text}`06_what_makes_a_good_teacher.ipynb::verdict-convnet-taught-20-20-beats-alone:s`.
#   A bigger student, or a teacher assistant between the two, are what to try then
#   (chapter 6, through an assistant against directly:
#   {glue:text}`06_what_makes_a_good_teacher.ipynb::verdict-assistant-beats-direct:s`).
# * *The temperature.* Chapter 3 asked whether smaller students prefer lower
#   temperatures:
#   {glue:text}`03_temperature.ipynb::verdict-smaller-students-prefer-lower-T:s`. This
#   page uses $T = 2$ with `alpha = 0.5` for its small student; try a few values of T on
#   your validation images, never on the test images.
# * *The schedule.* Chapter 4 asked whether distillation's gain grows with a longer
#   schedule:
#   {glue:text}`04_vit_to_mobilenet.ipynb::verdict-distillation-gain-grows-with-length:s`.
#   Train both arms for the same steps, to the end of the schedule, as here.
# * *Augmented views.* If you augment, have the teacher label the very view the student
#   sees (chapter 6, consistent against independent views:
#   {glue:text}`06_what_makes_a_good_teacher.ipynb::verdict-consistent-beats-independent-views:s`);
#   a fixed bank of views, `kdutils.view_bank`, keeps the teacher's logits cacheable.
#   Views can help the student alone as much (chapter 2:
#   {glue:text}`02_mnist_teacher_student.ipynb::verdict-views-help-alone:s`), so compare
#   distilled and alone on the same views.
#
# The {doc}`API reference <../book/api>` lists every function used here, and how the
# same run reads in Hugging Face's `Trainer`, torchdistill and Keras.
