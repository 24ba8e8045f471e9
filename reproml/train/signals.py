"""Ctrl-C / SIGTERM during training: stop cleanly, save the checkpoint, record INTERRUPTED.

`stop_on_signals` installs handlers for SIGINT and SIGTERM that only set a flag; its hook
(`reproml.train.hooks.StopOnSignalHook`) asks the Estimator to stop after the current step,
so `Estimator.train`
returns normally and its checkpoint saver writes the last step. The caller then raises
`TrainingInterrupted` (a Sacred interrupt), and Sacred records the run as ``INTERRUPTED``.
Training again with the same ``model_dir`` resumes from that checkpoint.

A second signal while stopping restores the previous handler and re-delivers the signal
(for a second Ctrl-C: an immediate ``KeyboardInterrupt``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from sacred.utils import SacredError, SacredInterrupt

from reproml.lazy import lazy_import

estimator_hooks = lazy_import("reproml.train.hooks")  # Estimator hooks: TensorFlow

_log = logging.getLogger("reproml.train")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(SacredInterrupt, SacredError):
    """Training stopped on a signal; the last checkpoint is saved. Sacred records INTERRUPTED."""

    STATUS = "INTERRUPTED"

    def __init__(self, signal_name: str, step: int | None, model_dir: str) -> None:
        self.signal_name, self.step, self.model_dir = signal_name, step, model_dir
        message = (
            f"training stopped by {signal_name} at step {step}; checkpoint saved in {model_dir}. "
            "Run the same command again (same model_dir) to resume from it"
        )
        SacredError.__init__(self, message, print_traceback=False)


class SignalStopper:
    """Holds the signal that arrived (if any) and the hook that acts on it."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.hook = estimator_hooks.StopOnSignalHook(self)

    @property
    def signal_name(self) -> str | None:
        """Name of the received signal (``SIGINT``/``SIGTERM``), or None."""
        return None if self.received is None else signal.Signals(self.received).name

    def handle(self, signum: int, frame: Any) -> None:
        """Signal handler: remembers the first signal; a second one is re-delivered as usual."""
        if self.received is None:
            self.received = signum
            _log.warning(
                "%s received: stopping after the current step and saving a checkpoint "
                "(send it again to abort at once)",
                signal.Signals(signum).name,
            )
            return
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
        os.kill(os.getpid(), signum)

    def install(self) -> None:
        """Install the handlers (only possible from the main thread; else a no-op)."""
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self.handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}


@contextlib.contextmanager
def stop_on_signals() -> Iterator[SignalStopper]:
    """Context manager: SIGINT/SIGTERM stop training cleanly while inside it.

    Yields:
      A `SignalStopper`; pass ``stopper.hook`` to ``Estimator.train(hooks=...)`` and check
      ``stopper.received`` afterwards.
    """
    stopper = SignalStopper()
    stopper.install()
    try:
        yield stopper
    finally:
        stopper.restore()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Context manager: SIGTERM raises `KeyboardInterrupt`, like Ctrl-C.

    Outside training (serializing, evaluating) a SIGTERM would otherwise kill the process
    without Sacred recording anything; as a `KeyboardInterrupt` Sacred records INTERRUPTED.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
