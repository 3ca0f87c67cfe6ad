"""Training-speed benchmark of ``aecore`` against plain Keras ``fit`` and a plain PyTorch loop.

``make bench`` runs :mod:`benchmarks.bench`; results go to ``benchmarks/results/``.

- :mod:`benchmarks.flops`     — FLOPs per sample, counted analytically from the layer shapes;
- :mod:`benchmarks.tf_peers`  — the TensorFlow contenders (aecore's default path, Keras ``fit``);
- :mod:`benchmarks.torch_peer`— the same architectures in a plain PyTorch training loop;
- :mod:`benchmarks.results`   — measurements, ratios, the CSV and the Markdown summary;
- :mod:`benchmarks.bench`     — the plan (which contender, which knobs), run interleaved.

PyTorch is a benchmark-only dependency (``requirements-bench.txt``); everything but
:mod:`benchmarks.torch_peer` imports without it.
"""
