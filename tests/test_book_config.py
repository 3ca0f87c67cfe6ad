"""_config.yml: what the Sphinx build reads. Environments made by `make` (.venv, and .venv-colab
from `make test-colab`) hold Markdown files of their packages; the book must never parse them,
or a second `make test` fails its book build on their headings (it did: 306 warnings from
.venv-colab, before `.venv*` was excluded)."""

from __future__ import annotations

from pathlib import Path

import yaml
from sphinx.util.matching import get_matching_files

ROOT = Path(__file__).resolve().parents[1]


def test_environments_and_build_outputs_are_not_read_by_the_book(tmp_path):
    patterns = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["exclude_patterns"]
    tree = [".venv/lib/python3.11/site-packages/x/README.md",
            ".venv-colab/lib/python3.13/site-packages/pyparsing/ai/best_practices.md",
            "_build/html/x.md", "chapters/.03_x.executing.ipynb",
            "chapters/03_conv_autoencoder_mse_bce.ipynb", "intro.md", "verdicts.md"]
    for name in tree:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# x\n", encoding="utf-8")
    # The function Sphinx itself uses to find the documents of a project.
    read = sorted(get_matching_files(tmp_path, include_patterns=["**"], exclude_patterns=patterns))
    assert read == ["chapters/03_conv_autoencoder_mse_bce.ipynb", "intro.md", "verdicts.md"]
