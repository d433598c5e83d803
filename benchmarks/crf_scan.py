"""Post-processing CRF scan: loss and accuracy on ee_6jet test events for a grid of (α, ω).

Run:  .venv/bin/python benchmarks/crf_scan.py   (~2 min on 2 cores)

Trains a U-Net alone (900 events, 8 epochs, base 8 channels), then applies the mean-field CRF
with each (α, ω) to the 300 test events and prints loss and energy-weighted accuracy next to the
U-Net's own. The CRF defaults in ColorizeConfig come from this scan.
"""
from __future__ import annotations

import tempfile

import numpy as np
import torch

from jetviz.models.colorize import assignment_accuracy, colorize_loss
from jetviz.runners.colorize import ColorizeConfig, ColorizeRunner


def main() -> None:
    config = ColorizeConfig(sample="ee_6jet", n_train=900, n_test=300, epochs=8, base_channels=8, seed=1)
    with tempfile.TemporaryDirectory() as run_dir:
        runner = ColorizeRunner(config, run_dir=run_dir)
        model = runner.fit().model.eval()
        _, test, n_colours = runner.load_data()
    batch = test.tensors(slice(None), "cpu")

    def score(log_probs):
        loss = colorize_loss(log_probs, batch["energy"], batch["truth"], batch["mask"]).item()
        accuracy = assignment_accuracy(log_probs.argmax(-1).numpy(), test.truth, test.energy, test.mask, n_colours).mean()
        return loss, accuracy

    with torch.no_grad():
        unet = model(batch, crf=False)
        print("| α | ω | loss test | accuracy test |\n|---|---|---|---|")
        print("| U-Net alone | | {:.3f} | {:.3f} |".format(*score(unet)))
        for alpha in (1e3, 1e4, 1e5, 1e6):
            for omega in (0.005, 0.02, 0.05, 0.2):
                model.crf.log_alpha.fill_(np.log(alpha))
                model.crf.log_omega.fill_(np.log(omega))
                loss, accuracy = score(model.crf(unet, batch["energy"], batch["direction"], batch["mask"]))
                print(f"| {alpha:.0e} | {omega} | {loss:.3f} | {accuracy:.3f} |")


if __name__ == "__main__":
    main()
