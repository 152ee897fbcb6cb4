"""The out-of-distribution zoo of this report: the same CNN grid on the generated `shapes` images.

`zoo generate --input-size` converts to three channels, so the one-channel 28 x 28 inputs the
2,464-weight CNN needs are set through the Python API. Run from the repository root:

    python docs/results/hyper-representations/ood_zoo.py OUT [--n 64]
"""

import argparse

from weightspace.zoo.generate import generate_zoo
from weightspace.zoo.presets import ZooPlan

if __name__ == "__main__":  # the generator starts worker processes
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    plan = ZooPlan(
        space="docs/results/hyper-representations/space-mnist10k.toml",
        n=args.n,
        datasets=("shapes",),
        seed=5,
        input_shape=(1, 28, 28),
        min_epochs=10,
        max_epochs=10,
        n_snapshots=11,
        train_samples=4000,
    )
    report = generate_zoo(plan, args.out, workers=1, progress=False)
    print(f"{report.planned} planned, {report.trained} trained in {report.seconds:.0f} s")
