"""The one training loop: checkpoints, resume, cancel, progress fractions, bad checkpoints."""
import pytest
import torch

from jetviz.errors import Cancelled, DataFileError
from jetviz.runners.loop import TrainingLoop


def tiny_training(checkpoint, epochs=3, cancel=None, progress=None, span=(0.0, 1.0)):
    """A linear model fitted by SGD on seeded random batches: every random number from the saved generator."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(1)
    best = {"loss": float("inf")}
    loop = TrainingLoop({"model": model, "optimiser": optimiser, "generator": generator, "best": best}, epochs,
                        checkpoint, progress, cancel, span, tags={"model": "linear"}, what="tiny training")

    def epoch(number):
        total = 0.0
        for _ in loop.steps(4):
            x = torch.randn(8, 3, generator=generator)
            y = x.sum(1, keepdim=True) + 0.1 * torch.randn(8, 1)  # global RNG: restored on resume too
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
            loop.report(loss=loss.item())
        best["loss"] = min(best["loss"], total / 4)
        return {"train_loss": total / 4, "best": best["loss"]}

    return loop.run(epoch), model, best


def test_epochs_rows_and_events(tmp_path):
    events = []
    history, _, best = tiny_training(tmp_path / "checkpoint.pt", progress=events.append, span=(0.2, 0.5))
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(isinstance(row["train_loss"], float) and row["seconds"] >= 0 for row in history)
    steps = [e for e in events if e["kind"] == "step"]
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert len(steps) == 12 and len(epochs) == 3
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[0] > 0.2 and fractions[-1] == pytest.approx(0.7)
    assert all(e["model"] == "linear" and e["epochs"] == 3 for e in steps + epochs)
    assert best["loss"] == min(row["train_loss"] for row in history)


def test_checkpoint_holds_every_object_and_loads_weights_only(tmp_path):
    tiny_training(tmp_path / "checkpoint.pt", epochs=2)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert set(state["objects"]) == {"model", "optimiser", "generator", "best"}


def test_cancel_then_resume_equals_the_uninterrupted_training(tmp_path):
    reference, ref_model, ref_best = tiny_training(tmp_path / "a.pt", epochs=4)
    steps = []
    with pytest.raises(Cancelled, match=r"tiny training cancelled in epoch 3; checkpoint after epoch 2 kept"):
        tiny_training(tmp_path / "b.pt", epochs=4, progress=steps.append,
                      cancel=lambda: sum(e["kind"] == "step" for e in steps) >= 10)
    events = []
    resumed, model, best = tiny_training(tmp_path / "b.pt", epochs=4, progress=events.append)
    assert events[0]["stage"] == "resume" and events[0]["epoch"] == 2
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [3, 4]
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in reference]  # bit for bit
    torch.testing.assert_close(model.weight, ref_model.weight, rtol=0, atol=0)
    assert best == ref_best


def test_no_checkpoint_means_no_resume(tmp_path):
    history, _, _ = tiny_training(None, epochs=2)
    assert len(history) == 2 and not list(tmp_path.iterdir())


def test_finished_checkpoint_runs_no_more_epochs(tmp_path):
    first, _, _ = tiny_training(tmp_path / "c.pt", epochs=2)
    events = []
    again, _, _ = tiny_training(tmp_path / "c.pt", epochs=2, progress=events.append)
    assert again == first and [e["kind"] for e in events] == ["stage"]


@pytest.mark.parametrize("content, problem", [
    (b"", "is not a readable torch file"),
    (b"garbage bytes", "is not a torch file of tensors"),
])
def test_damaged_checkpoint_is_a_clear_error_and_kept(tmp_path, content, problem):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=f"checkpoint.pt: {problem}"):
        tiny_training(path)
    assert path.read_bytes() == content


def test_checkpoint_of_another_training_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 1, "history": [], "rng": torch.get_rng_state(), "objects": {"model": {}}}, path)
    before = path.read_bytes()
    with pytest.raises(DataFileError, match="another training"):
        tiny_training(path)
    torch.save({"model": {}}, path)
    with pytest.raises(DataFileError, match="not a jetviz checkpoint"):
        tiny_training(path)
    torch.save({"epoch": 1, "history": [], "rng": torch.get_rng_state(),
                "objects": {"model": torch.nn.Linear(5, 1).state_dict(), "optimiser": {}, "generator": torch.Generator().get_state(),
                            "best": {}}}, path)
    with pytest.raises(DataFileError, match="does not fit this training"):
        tiny_training(path)
    assert before != path.read_bytes()  # (the test wrote it; the loop never rewrites a checkpoint it cannot read)
