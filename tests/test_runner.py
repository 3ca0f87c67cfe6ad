"""aecore.runner: one run / sweep / Result for every kind of experiment, checked with a fake kind
that trains nothing (no TensorFlow), so what is tested is the runner's contract, not a model:
train once then read back, the same read path and messages for every kind, retrain on an
unusable entry, sweeps that lay rows out by kind."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from aecore import cache as store
from aecore import experiments, runner, vae_runs


class FakeModel:
    """Saves and loads one array, as a Keras model's weights file would."""

    def __init__(self, value: float = 0.0):
        self.value = value

    def save_weights(self, path):
        with open(path, "w") as f:
            json.dump({"value": self.value}, f)

    def load_weights(self, path):
        with open(path) as f:
            self.value = json.load(f)["value"]


TRAINED: list[str] = []  # labels of the runs the fake kind trained, in order


@dataclasses.dataclass(frozen=True)
class FakeConfig(runner.RunConfig):
    dataset: str = "mnist"
    width: int = 3
    seed: int = 0
    n_train: int = 10
    n_test: int = 5
    epochs: int = 2
    batch_size: int = 4
    n_val: int = 5

    KIND: ClassVar[str] = "fake"
    TABLES: ClassVar[tuple[str, ...]] = ("history", "steps")
    REQUIRED_METRICS: ClassVar[tuple[str, ...]] = ("score", "train_seconds")
    HISTORY_COLUMNS: ClassVar[tuple[str, ...]] = ("epoch", "loss", "seconds")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def setting_label(self) -> str:
        return f"fake w{self.width}"

    def entry_slug(self) -> str:
        return f"fake-w{self.width}-s{self.seed}"

    def key_fields(self) -> dict[str, Any]:
        return runner.base_key_fields(self)

    def data_fingerprint(self) -> str:
        return store.fingerprint_arrays(np.arange(self.n_train, dtype=np.float32))

    def build_model(self) -> FakeModel:
        return FakeModel()

    def reconstruct(self, model: FakeModel, x: np.ndarray) -> np.ndarray:
        return np.full_like(x, model.value)

    def train(self, *, progress: bool, prefix: str):
        TRAINED.append(self.label())
        score = 0.1 * self.width + self.seed
        history = pd.DataFrame({"epoch": [1, 2], "loss": [1.0 / 3, score], "seconds": [0.5, 0.25]})
        steps = pd.DataFrame({"step": [0, 1, 2], "loss": [0.1, 0.2, 0.3]})
        return {"score": score, "train_seconds": 0.75}, {"history": history, "steps": steps}, FakeModel(score)

    @staticmethod
    def history_attrs() -> dict[str, Any]:
        return {"unit": "fake units"}

    SUMMARY = "score {score:.2f}"

    def table_row(self, result: runner.Result) -> dict[str, Any]:
        return {"label": self.label(), "width": self.width, "score": result.metrics["score"]}


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV_VAR, str(tmp_path / "cache"))
    TRAINED.clear()


def test_a_run_trains_once_and_reads_back_every_table_exactly():
    cfg = FakeConfig(width=4)
    first = runner.run(cfg, progress=False)
    again = runner.run(cfg, progress=False)
    assert TRAINED == ["fake w4 seed 0"]
    assert (first.from_cache, again.from_cache) == (False, True)
    assert again.path == first.path == runner.entry_path(cfg)
    pd.testing.assert_frame_equal(again.history, first.history, check_exact=True)  # 1/3 to the bit
    pd.testing.assert_frame_equal(again.steps, first.steps, check_exact=True)
    assert again.metrics == first.metrics and again.history.attrs == {"unit": "fake units"}
    assert again.model.value == first.model.value == pytest.approx(0.4)
    assert runner.run(cfg, progress=False, load_model=False).model is None
    assert sorted(p.name for p in first.path.iterdir()) == sorted(
        [*store.entry_files(FakeConfig.TABLES), store.MANIFEST])


def test_the_key_covers_the_kind_config_and_code():
    a, b = FakeConfig(), FakeConfig(width=5)
    assert runner.cache_key(a) != runner.cache_key(b)
    assert runner.cache_key(a) == runner.cache_key(FakeConfig())
    assert json.loads(json.dumps(a.key_fields()))["kind"] == "fake"


def test_an_edited_entry_is_reported_by_the_one_read_path_and_retrained():
    cfg = FakeConfig()
    path = runner.run(cfg, progress=False).path
    (path / "steps.csv").write_text("step,loss\n0,9\n")
    with pytest.warns(store.CacheWarning, match=r"steps\.csv does not match its checksum.*deleted it; retraining"):
        again = runner.run(cfg, progress=False)
    assert not again.from_cache and TRAINED == ["fake w3 seed 0"] * 2


def test_an_entry_of_other_images_is_named_as_such(monkeypatch):
    cfg = FakeConfig()
    runner.run(cfg, progress=False)
    monkeypatch.setattr(FakeConfig, "data_fingerprint", lambda self: "0" * 64)
    with pytest.warns(store.CacheWarning, match="trained on other images"):
        runner.run(cfg, progress=False)


def test_progress_names_the_run_and_its_summary(capsys):
    cfg = FakeConfig(width=2)
    runner.run(cfg)
    runner.run(cfg)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "fake w2 seed 0: training 2 epoch(s) on 10 images"
    assert out[1] == "  done in 0.8 s: score 0.20"
    assert out[2].startswith("fake w2 seed 0: from the cache (fake-w2-s0-")


def test_a_sweep_lays_rows_out_by_kind_and_marks_repeats():
    a, b = FakeConfig(width=1), FakeConfig(width=2)
    table = runner.sweep([a, b, a], progress=False)
    assert table["label"].tolist() == ["fake w1 seed 0", "fake w2 seed 0", "fake w1 seed 0"]
    assert table["from_cache"].tolist() == [False, False, True]
    assert TRAINED == ["fake w1 seed 0", "fake w2 seed 0"]
    assert runner.sweep([a, b], progress=False)["from_cache"].all()


def test_run_refuses_what_is_not_an_experiment_config():
    with pytest.raises(TypeError, match="needs an experiment config"):
        runner.run({"dataset": "mnist"})
    with pytest.raises(TypeError, match="needs an experiment config"):
        runner.sweep([FakeConfig(), "mnist conv_ae bce"])


def test_both_kinds_of_the_book_go_through_the_one_runner():
    assert experiments.run is vae_runs.run is runner.run
    assert experiments.sweep is vae_runs.sweep is runner.sweep
    assert experiments.Result is vae_runs.VAEResult is runner.Result
    for kind in (experiments.Config, vae_runs.VAEConfig):
        assert issubclass(kind, runner.RunConfig)
        missing = [name for name in runner.RunKind.__annotations__ if name not in {"epochs", "n_train", "seed"}
                   and not hasattr(kind, name)]
        assert missing == []
        methods = [m for m in ("label", "entry_slug", "key_fields", "data_fingerprint", "build_model", "train",
                               "history_attrs", "table_row") if not callable(getattr(kind, m, None))]
        assert methods == []
        assert kind.SUMMARY.format_map({name: 1.0 for name in kind.REQUIRED_METRICS})  # names only what every run holds


def test_the_profile_base_gives_both_kinds_the_same_sizes():
    from aecore.profiles import PROFILES

    fast = PROFILES["fast"]
    ae = experiments.Config.from_profile(fast, dataset="mnist", model="conv_ae", loss="mse")
    v = vae_runs.VAEConfig.from_profile(fast)
    for cfg in (ae, v):
        assert (cfg.n_train, cfg.n_test, cfg.epochs, cfg.batch_size, cfg.n_val) == (
            fast.n_train, fast.n_test, fast.epochs, fast.batch_size, fast.n_val)
    assert vae_runs.VAEConfig.from_profile(fast, epoch_factor=2.5).epochs == round(fast.epochs * 2.5)
    assert FakeConfig.from_profile(fast, width=9).replace(seed=3).label() == "fake w9 seed 3"


def test_no_warning_on_a_clean_read():
    cfg = FakeConfig()
    runner.run(cfg, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runner.run(cfg, progress=False).from_cache
