import platform
import subprocess
import sys

import pytest
import torch

from kdbook.profiles import get_profile

# allocates and frees a small convnet's activations 50 times, then prints the page faults of 50 more
LOOP = """
import resource, sys, torch
from kdutils.allocator import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
def work():
    for _ in range(50):
        a, b = torch.ones(64, 16, 28, 28), torch.ones(64, 32, 28, 28)
        (a.sum() + b.sum()).item()
        del a, b
work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", LOOP, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    default, kept = page_faults("default"), page_faults("kept")
    assert default > 1000  # glibc's default hands the blocks back: the loop faults
    assert kept < default / 100


def test_profiles_keep_freed_memory(monkeypatch):
    import kdutils.allocator

    calls = []
    monkeypatch.setattr(kdutils.allocator, "keep_freed_memory", lambda: calls.append(1))
    threads = torch.get_num_threads()
    try:
        get_profile("smoke").configure_torch()
    finally:
        torch.set_num_threads(threads)
    assert calls == [1]
