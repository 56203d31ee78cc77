"""glibc's mmap threshold inside and after `large_blocks_mapped`, counted by mallinfo2 in a child process."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

#: After a 16 MiB block was freed (which raises glibc's own threshold above 4 MiB), prints how many
#: blocks glibc has mapped on their own while a 4 MiB array lives and once it is freed: by default,
#: or inside `large_blocks_mapped` and then after it.
CHILD = """
import ctypes, sys
import numpy as np

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
np.ones(16 << 20, np.uint8)  # mapped, then freed: glibc raises its threshold to 16 MiB
def count():
    before = libc.mallinfo2().hblks
    block = np.ones(4 << 20, np.uint8)
    during = libc.mallinfo2().hblks
    del block
    return during - before, libc.mallinfo2().hblks - before

if sys.argv[1] == "fixed":
    from dkvae.core.allocator import large_blocks_mapped
    with large_blocks_mapped() as changed:
        assert changed
        inside = count()
    print(*inside, *count())
else:
    print(*count())
"""


def mapped_blocks(setting: str) -> list[int]:
    """Blocks mapped while the 4 MiB array lives and after it is freed (then the same after the setting ends)."""
    output = subprocess.run([sys.executable, "-c", CHILD, setting], capture_output=True, text=True, check=True).stdout
    return [int(number) for number in output.split()]


def test_by_default_a_4_mib_block_comes_from_the_heap_once_a_large_one_was_freed() -> None:
    assert mapped_blocks("default") == [0, 0]


def test_inside_the_setting_it_is_mapped_on_its_own_and_given_back_when_freed_and_not_after() -> None:
    assert mapped_blocks("fixed") == [1, 0, 0, 0]


#: Page faults over 20 rounds of allocating, filling and freeing five 4 MiB arrays (the pattern of a
#: preprocessing worker's batches), by default or after `keep_freed_memory`.
REUSE_CHILD = """
import resource, sys
import numpy as np

if sys.argv[1] == "keep":
    from dkvae.core.allocator import keep_freed_memory
    assert keep_freed_memory()

def round_of_batches():
    arrays = [np.ones(1 << 20, np.float32) for _ in range(5)]
    del arrays

round_of_batches(), round_of_batches()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    round_of_batches()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(setting: str) -> int:
    """Minor page faults of `REUSE_CHILD` run with `setting`."""
    output = subprocess.run([sys.executable, "-c", REUSE_CHILD, setting], capture_output=True, text=True, check=True)
    return int(output.stdout)


def test_by_default_freed_batches_are_given_back_and_faulted_in_again() -> None:
    assert page_faults("default") > 20 * 1024  # more than one array's pages, every round


def test_kept_freed_memory_is_reused_without_page_faults() -> None:
    assert page_faults("keep") < 200
