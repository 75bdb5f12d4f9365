"""The teacher's logits on fixed inputs, computed once and looked up by index (TeacherCache)."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .data import Split
from .evaluate import predict_dataset, predict_logits
from .loaders import dataset_of

# torchvision transforms that draw anew every time an image is loaded (besides every Random* class)
_RANDOM_TRANSFORMS = set(
    "AugMix AutoAugment ColorJitter ElasticTransform GaussianBlur GaussianNoise RandAugment "
    "ScaleJitter TrivialAugmentWide".split()
)


def _transforms_of(obj: object, depth: int = 0) -> list[object]:
    """The transforms a dataset applies to its images: its ``transform``/``transforms``, unpacked
    from ``Compose`` and from wrapping datasets (``Subset``)."""
    if depth > 5 or obj is None:
        return []
    found: list[object] = []
    for name in ("transform", "transforms"):
        value = getattr(obj, name, None)
        for t in (
            value if isinstance(value, (list, tuple)) else [value] * (value is not None)
        ):
            found += [t, *_transforms_of(t, depth + 1)]
    return found + _transforms_of(getattr(obj, "dataset", None), depth + 1)


def check_deterministic(dataset: Dataset, probes: int = 4) -> None:
    """Raise a ValueError when loading the same image twice can give two different tensors: a random
    transform (by its class, or caught by loading the first ``probes`` images twice)."""
    names = {type(t).__name__ for t in _transforms_of(dataset)}
    drawn = lambda n: n.startswith("Random") or n in _RANDOM_TRANSFORMS  # noqa: E731
    random_ones = sorted(filter(drawn, names))
    if not random_ones:
        for index in range(min(probes, len(dataset))):
            first, again = dataset[index][0], dataset[index][0]
            if not torch.equal(torch.as_tensor(first), torch.as_tensor(again)):
                random_ones = [f"(unnamed: image {index} loads differently twice)"]
                break
    if random_ones:
        raise ValueError(
            f"the dataset's transform draws anew every time an image is loaded "
            f"({', '.join(random_ones)}), so teacher logits cached once would not match the "
            "images the student sees: pass the teacher model itself to fit (teacher=model; "
            "it then labels each batch live), or cache on a dataset with deterministic "
            "transforms (for augmented images, a fixed bank of views: kdutils.augment.view_bank)"
        )


# the integer type of each element size, to sum a tensor's bits in
_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _key(data: Tensor | Split | Dataset | DataLoader) -> tuple:
    """What identifies the inputs: a tensor's shape, storage and version (a different or modified
    tensor) and checksum (a copy edited elsewhere); a dataset's identity and length. The checksum
    sums the elements' bits as integers, exactly: a float sum rounds in an order that depends on
    torch's thread count, so a cache built with several threads failed its check in a sweep job,
    which runs on one (kdbook.sweep)."""
    x = data.x if isinstance(data, Split) else data
    if not isinstance(x, Tensor):
        return ("dataset", id(dataset_of(x)), len(dataset_of(x)))
    bits = x.detach().contiguous().view(_BITS.get(x.element_size(), torch.uint8))
    where = (tuple(x.shape), x.dtype, x.data_ptr(), x._version)
    return (*where, int(bits.sum(dtype=torch.int64)))


class TeacherCache:
    """The teacher's logits on fixed inputs, computed once and looked up by index.

    The inputs are an image tensor (rows are the indices) or a Dataset of ``(image, label)`` pairs
    (dataset indices; a DataLoader's dataset), whose transforms must be deterministic
    (:func:`check_deterministic`). Valid only while the inputs do not change: :meth:`check` refuses
    other inputs, and :func:`kdutils.train.fit` refuses a cache together with ``augment`` (the
    inputs would change every step and the cached logits would be stale). To cache logits on
    augmented images, cache them on a fixed bank of views (:func:`kdutils.augment.view_bank`)."""

    def __init__(
        self,
        teacher: nn.Module,
        x: Tensor | Dataset | DataLoader,
        batch_size: int = 1024,
        device: str | torch.device | None = None,
    ) -> None:
        self.labels: Tensor | None = None  # a dataset's labels, read while caching
        if isinstance(x, Tensor):
            self._key = _key(x)
            self.logits = predict_logits(teacher, x, batch_size, device)
            return
        dataset = dataset_of(x)
        check_deterministic(dataset)
        self._key, self._dataset = _key(dataset), dataset  # kept alive: its id stays
        # in dataset order, whatever order a given DataLoader would draw
        self.logits, self.labels = predict_dataset(teacher, dataset, batch_size, device)

    @classmethod
    def from_logits(cls, logits: Tensor, x: Tensor) -> TeacherCache:
        """A cache of logits computed elsewhere (a sweep job, a hub model) on the image tensor
        ``x``, row ``i`` on image ``i``."""
        if len(logits) != len(x):
            raise ValueError(
                f"{len(logits)} rows of logits for {len(x)} images: give one row per image of x"
            )
        cache = cls.__new__(cls)
        cache.logits, cache.labels, cache._key = logits, None, _key(x)
        return cache

    def check(self, data: Tensor | Split | Dataset | DataLoader) -> None:
        """Raise a ValueError unless ``data`` is what these logits were computed on."""
        if self._key != _key(data):
            raise ValueError(
                "TeacherCache was built on other inputs than the ones being trained on; "
                "rebuild it for this data (stale teacher logits would be silently wrong)"
            )

    def rolled(self, rows: int) -> TeacherCache:
        """The same inputs with row ``i`` holding the logits of row ``i + rows`` (wrapping round): on a
        :func:`~kdutils.augment.view_bank`, rolling by ``len(split)`` gives each view the teacher's
        logits on *another* view of the same image (Beyer et al. 2022's *independent views*)."""
        other = copy.copy(self)
        other.logits = self.logits.roll(-rows, dims=0)
        return other
