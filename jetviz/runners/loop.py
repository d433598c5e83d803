"""The one training loop of every runner: epochs of steps, a checkpoint after each epoch, resume, cancel.

Design notes: docs/architecture.md, section ``jetviz.runners.loop``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from jetviz.errors import Cancelled, DataFileError

__all__ = ["TrainingLoop", "Progress", "stage_event"]

#: ``progress(event)``: a dict with ``kind`` ("stage", "step", "epoch", "unit", "done") and its fields
Progress = Callable[[dict], None]


def stage_event(stage: str, message: str, fraction: float | None = None, **fields) -> dict:
    """A ``stage`` progress event (``fraction``: how far the whole run is, when known)."""
    event = {"kind": "stage", "stage": stage, "message": message, **fields}
    if fraction is not None:
        event["fraction"] = float(min(max(fraction, 0.0), 1.0))
    return event


def _plain(value: Any) -> Any:
    """A history value as a plain Python number/string (what ``weights_only`` loading accepts)."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _state_of(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"TrainingLoop: cannot checkpoint a {type(obj).__name__} (needs state_dict(), a Generator or a dict)")


def _restore(obj: Any, state: Any) -> None:
    import torch

    if isinstance(obj, torch.Generator):
        obj.set_state(state)
    elif hasattr(obj, "load_state_dict"):
        obj.load_state_dict(state)
    else:
        obj.clear()
        obj.update(state)


class TrainingLoop:
    """Epochs of steps over stateful objects, checkpointed after every epoch (see the module docstring).

    Parameters
    ----------
    objects : mapping
        ``{name: object}``: modules, optimisers, schedulers (``state_dict``/``load_state_dict``),
        ``torch.Generator`` s and plain dicts; all are saved and restored.
    epochs : int
        Number of epochs of the whole training.
    checkpoint : Path, optional
        The checkpoint file (resumed from when it exists); None: no checkpoints.
    progress : callable, optional
        Receives the ``stage`` (resume), ``step`` and ``epoch`` events.
    cancel : callable, optional
        Polled before every step; True stops the training with :class:`~jetviz.errors.Cancelled`.
    span : (float, float)
        ``(start, width)``: the part of the whole run's progress (0…1) this training fills.
    tags : mapping, optional
        Fields added to every event (e.g. ``{"model": "resnet", "fold": 2}``).
    what : str
        What is trained, for messages ("jetclr training").
    after_epoch : callable, optional
        ``after_epoch(history)`` after every epoch's checkpoint (e.g. the run directory's
        :meth:`~jetviz.runners.rundir.RunDir.write_history`, so the rows are on disk as they come).
    """

    def __init__(self, objects: Mapping[str, Any], epochs: int, checkpoint: str | Path | None = None,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                 span: tuple[float, float] = (0.0, 1.0), tags: Mapping[str, Any] | None = None,
                 what: str = "training", after_epoch: Callable[[list[dict]], Any] | None = None):
        self.objects = dict(objects)
        self.epochs = int(epochs)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self._emit = progress or (lambda event: None)
        self._cancel = cancel or (lambda: False)
        self.span = (float(span[0]), float(span[1]))
        self.tags = dict(tags or {})
        self.what = what
        self._after_epoch = after_epoch
        self.history: list[dict] = []
        self.epoch = 0  # the epoch under way (1-based); 0 before the first
        self.stopped = ""  # why the training stopped before its last epoch ('' while it goes on)
        self._step = 0
        self._n_steps = 1

    # ----------------------------------------------------------------------------- progress
    def fraction(self, epoch: int, step: int, n_steps: int) -> float:
        """The whole run's progress after ``step`` of ``n_steps`` steps of epoch ``epoch`` (1-based)."""
        within = ((epoch - 1) + step / max(n_steps, 1)) / max(self.epochs, 1)
        start, width = self.span
        return float(min(start + width * min(max(within, 0.0), 1.0), 1.0))

    def steps(self, n_steps: int) -> Iterator[int]:
        """Step indices ``0 … n_steps − 1`` of the current epoch; ``cancel`` is polled before each (True:
        :class:`~jetviz.errors.Cancelled`, the previous epoch's checkpoint kept).
        """
        self._n_steps = max(int(n_steps), 1)
        for step in range(int(n_steps)):
            if self._cancel():
                kept = f"checkpoint after epoch {self.epoch - 1} kept" if self.checkpoint else "nothing kept"
                where = f" in {self.checkpoint.parent}" if self.checkpoint else ""
                raise Cancelled(f"{self.what} cancelled in epoch {self.epoch}; {kept}{where}")
            self._step = step
            yield step

    def report(self, loss: float, **fields) -> None:
        """Report the step just done (after :meth:`steps` yielded it) as a ``step`` event."""
        step = self._step + 1
        self._emit({"kind": "step", **self.tags, "epoch": self.epoch, "epochs": self.epochs, "step": step,
                    "n_steps": self._n_steps, "loss": float(loss), **fields,
                    "fraction": self.fraction(self.epoch, step, self._n_steps)})

    # ----------------------------------------------------------------------------- state
    def state(self) -> dict:
        """The checkpoint dict of the epoch just finished."""
        import torch

        return {"epoch": self.epoch, "history": [dict(row) for row in self.history], "rng": torch.get_rng_state(),
                "stopped": self.stopped, "objects": {name: _state_of(obj) for name, obj in self.objects.items()}}

    def load(self, state: Mapping) -> None:
        """Restore every object, the torch RNG and the history from a checkpoint dict."""
        import torch

        missing = sorted(set(self.objects) - set(state.get("objects", {})))
        if missing:
            raise DataFileError(self.checkpoint or Path("checkpoint"),
                                f"is a checkpoint of another training (it lacks {missing})")
        for name, obj in self.objects.items():
            _restore(obj, state["objects"][name])
        torch.set_rng_state(state["rng"])
        self.history = [dict(row) for row in state["history"]]
        self.epoch = int(state["epoch"])
        self.stopped = str(state.get("stopped", ""))

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        import torch

        from jetviz.data.io import atomic_write

        with atomic_write(self.checkpoint, "wb") as handle:
            torch.save(self.state(), handle)

    def _resume(self) -> int:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return 0
        from jetviz.data.io import load_torch_file

        state = load_torch_file(self.checkpoint)
        if not isinstance(state, Mapping) or not {"epoch", "history", "rng", "objects"} <= set(state):
            raise DataFileError(self.checkpoint, "is not a jetviz checkpoint (no epoch/history/rng/objects)")
        try:
            self.load(state)
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            raise DataFileError(self.checkpoint, f"does not fit this training ({type(err).__name__}: {err})") from None
        start = self.epochs if self.stopped else min(self.epoch, self.epochs)
        self._emit({"kind": "stage", "stage": "resume", **self.tags, "epoch": start,
                    "message": f"resumed after epoch {start}", "fraction": self.fraction(start + 1, 0, 1)})
        return start

    def stop(self, reason: str) -> None:
        """End the training after the current epoch (early stopping): no more epochs, also on resume."""
        self.stopped = reason

    # ----------------------------------------------------------------------------- the loop
    def run(self, epoch: Callable[[int], Mapping[str, Any]]) -> list[dict]:
        """Train the remaining epochs: ``epoch(number)`` (1-based) trains one and returns its row.

        Each row gets ``epoch``, ``seconds`` (wall time of the epoch) and whatever ``epoch``
        returned; after it the checkpoint is saved and an ``epoch`` event (the row, ``epochs``,
        ``fraction`` and the tags) is reported.

        Returns
        -------
        list of dict
            The rows of every epoch, resumed ones included.
        """
        start = self._resume()
        for number in range(start + 1, self.epochs + 1):
            self.epoch = number
            started = time.perf_counter()
            values = dict(epoch(number))
            row = {"epoch": number, **{k: _plain(v) for k, v in values.items()}}
            row.setdefault("seconds", time.perf_counter() - started)
            self.history.append(row)
            self._save()
            if self._after_epoch is not None:
                self._after_epoch(self.history)
            self._emit({"kind": "epoch", **self.tags, **row, "epochs": self.epochs,
                        "fraction": self.fraction(number, 1, 1)})
            if self.stopped:
                self._emit({"kind": "stage", "stage": "stopped", **self.tags, "epoch": number,
                            "message": f"stopped after epoch {number}: {self.stopped}",
                            "fraction": self.fraction(self.epochs, 1, 1)})
                break
        return self.history
