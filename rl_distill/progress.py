"""One progress style for every long job: a tqdm bar on a terminal, plain lines anywhere else.

Written to a file or a CI log, a progress bar is a wall of carriage-return frames; there the same
progress is printed as one line every ``line_every`` of the total instead (0: only the caller's
:meth:`Progress.write` lines, e.g. one per distillation round).
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    """Counts up to ``total``; ``enabled=False`` prints nothing at all."""

    def __init__(self, total: int, desc: str, *, initial: int = 0, enabled: bool = True,
                 line_every: float = 0.1, unit: str = "step") -> None:  # fmt: skip
        self.total, self.desc, self.count, self.enabled, self.unit = total, desc, initial, enabled, unit
        self.terminal = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit) if self.terminal else None
        self.step = max(int(total * line_every), 1)
        self.next_line = (initial // self.step + 1) * self.step if line_every > 0 else float("inf")
        self.started, self.start_count = time.perf_counter(), initial

    def update(self, n: int, **status: str) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
            if status:
                self.bar.set_postfix(status, refresh=False)
        elif self.enabled and self.count >= self.next_line:
            self.next_line = (self.count // self.step + 1) * self.step
            rate = (self.count - self.start_count) / max(time.perf_counter() - self.started, 1e-9)
            extra = "".join(f"  {k} {v}" for k, v in status.items())
            shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"  # episodes can come at one per second or fewer
            print(f"{self.desc}: {self.count:,}/{self.total:,} {self.unit}s  {shown} {self.unit}s/s{extra}",
                  file=sys.stderr, flush=True)  # fmt: skip

    def extend(self, total: int) -> None:
        """Count up to a larger ``total`` from here on (a run that decided to go on)."""
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def write(self, line: str) -> None:
        """A log line that does not break the bar."""
        if self.enabled:
            tqdm.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def check_tensorboard(folder: str | None) -> None:
    """Before any work: TensorBoard logging asked for, but the package missing, is a one-line error."""
    import importlib.util

    if folder and importlib.util.find_spec("tensorboard") is None:
        from rl_distill.errors import InputError

        raise InputError("--tensorboard needs the tensorboard package: pip install 'rl-distill[tensorboard]'")


class ScalarLog:
    """TensorBoard scalars of a run when given a folder; without one, ``add`` does nothing."""

    def __init__(self, folder: str | None) -> None:
        self.writer = None
        if folder:
            check_tensorboard(folder)
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(folder)

    def add(self, step: int, values: dict[str, float | None]) -> None:
        """One scalar per name at ``step``; ``None`` values (not measured this time) are skipped."""
        if self.writer is None:
            return
        for name, value in values.items():
            if value is not None:
                self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
