"""The C library's allocator set for training loops: freed tensors' memory stays in the process."""

from __future__ import annotations

import ctypes
import platform

# mallopt's parameter numbers, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts on a 64-bit system
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc to serve blocks under 32 MB from its heap and keep up to 1 GB of freed memory.

    A training step frees activations of a few megabytes that the next step allocates again. By
    default glibc hands such blocks back to the operating system, so every step faults their pages
    back in, zero-filled by the kernel (``tests/test_allocator.py`` counts the faults); with this,
    none, for a few tens of MB more memory. The setting holds for this
    process and the processes it forks (sweep workers). Returns False, changing nothing, where the
    C library is not glibc.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL("libc.so.6").mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # setting either threshold ends glibc's dynamic adjustment of both, so both are set
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
