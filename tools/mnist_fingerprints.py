"""Writes aecore/mnist_train_fingerprints.bin: one fingerprint per image of the offline MNIST
training file (the book's 5,000 of the official 60,000), in its order.

    python tools/mnist_fingerprints.py ../shared/data

Online, ``aecore.data`` selects exactly these images from ``keras.datasets.mnist``'s 60,000, so a
reader without the offline copy (on Colab, say) trains on the book's images and gets the book's
numbers. Each fingerprint is the first 8 bytes of SHA-256 over the label byte and the 784 pixel
bytes (``aecore.data.image_fingerprints``); ``tests/test_data.py`` checks the file against the
offline copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aecore import data  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    folder = Path(argv[0]) / "mnist"
    images = data.read_idx(data._find_file(folder, "train-images-idx3-ubyte"))
    labels = data.read_idx(data._find_file(folder, "train-labels-idx1-ubyte"))
    digests = data.image_fingerprints(images, labels)
    if len(set(digests)) != len(digests):
        raise SystemExit("two offline training images share a fingerprint: lengthen it")
    data.MNIST_FINGERPRINTS.write_bytes(b"".join(digests))
    print(f"wrote {len(digests):,} fingerprints to {data.MNIST_FINGERPRINTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
