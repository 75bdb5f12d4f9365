"""Progress of a book run: a line when each chapter starts and ends, and a bar over chapters kept alive."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

HEARTBEAT_SECONDS = 30.0  # a run is never silent for longer than this


def verdict_counts(results_file: Path) -> str:
    """``3 reproduced, 1 inconclusive`` from a chapter's results JSON ('' when there is none)."""
    if not results_file.is_file():
        return ""
    claims = json.loads(results_file.read_text()).get("claims", [])
    counts = Counter(c["verdict"] for c in claims)
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common())


@contextlib.contextmanager
def training_marker(marker: Path) -> Iterator[None]:
    """A ``.training`` file beside a checkpoint while its model trains, for :func:`teachers_in_training`."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def teachers_in_training(checkpoints: Path) -> list[str]:
    """Teachers some notebook is training now: a :func:`training_marker` whose checkpoint lock
    (:func:`kdutils.checkpoints.cached_model`) a trainer holds (a killed run leaves its marker)."""
    return sorted(
        p.stem for p in checkpoints.glob("*.training") if _held(p.with_suffix(".lock"))
    )


def _held(lock: Path) -> bool:
    """Whether some process holds the advisory lock on ``lock`` (True where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        return True
    if not lock.is_file():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


class Progress:
    """What ``python -m kdbook run`` prints while it runs; nothing at all when ``quiet``.

    In a terminal: a progress bar over the chapters, its status refreshed every 30 s. In a log (no
    terminal): a status line whenever nothing was printed for 30 s.
    """

    def __init__(
        self,
        names: list[str],
        checkpoints: Path,
        quiet: bool = False,
        tty: bool | None = None,
    ) -> None:
        self.quiet, self.checkpoints = quiet, checkpoints
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.started = self.last_line = time.perf_counter()
        self.total, self.done = len(names), 0
        self.running: set[str] = set()
        self.bar = tqdm(
            total=len(names),
            desc="chapters",
            unit="chapter",
            disable=quiet or not self.tty,
            bar_format="{desc}: {n}/{total} |{bar:20}| {elapsed} elapsed{postfix}",
        )
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def say(self, line: str) -> None:
        if not self.quiet:
            tqdm.write(f"[kdbook] {line}")
            self.last_line = time.perf_counter()

    def start(self, name: str) -> None:
        self.running.add(name)
        self.say(f"{name}: started")
        self._status()

    def finish(
        self, name: str, seconds: float, results_file: Path, cpu: float | None = None
    ) -> None:
        self.running.discard(name)
        self.done += 1
        verdicts = verdict_counts(results_file)
        self.say(
            f"{name}: done in {seconds:.0f} s"
            + (f" ({cpu:.0f} CPU-s)" if cpu is not None else "")
            + (f"; claims: {verdicts}" if verdicts else "")
        )
        self.bar.update()
        self._status()

    def close(self) -> None:
        self._stop.set()
        self._beat.join()
        self.bar.close()
        self.say(f"all chapters done in {time.perf_counter() - self.started:.0f} s")

    def _status(self) -> None:
        parts = []
        if self.running:
            parts.append("running " + ", ".join(sorted(self.running)))
        teachers = teachers_in_training(self.checkpoints)
        if teachers:
            parts.append("training teacher " + ", ".join(teachers))
        if self.tty:
            self.bar.set_postfix_str("; ".join(parts), refresh=True)
        elif time.perf_counter() - self.last_line >= HEARTBEAT_SECONDS:
            elapsed = time.perf_counter() - self.started
            self.say(
                f"{self.done}/{self.total} chapters done, {elapsed / 60:.1f} min; "
                + "; ".join(parts)
            )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS / 3):
            self._status()
