"""aecore.experiments: configs, exact repeatability, and the disk cache's promises
(hits skip training, misses on any change, corruption detected and retrained, atomic writes).

Tiny runs (256 training images, 1 epoch). One run is trained once per module and its cache
directory copied into each test, so most tests cost no training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import train_into_cache

import aecore
from aecore import cache as store
from aecore import experiments, fingerprint, models, tables, training
from aecore.experiments import Config

DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(),
                                reason=f"offline MNIST not found in {DATA_DIR}")

CFG = Config(dataset="mnist", model="conv_ae", loss="bce", n_train=256, n_test=64, epochs=1,
             batch_size=64, seed=0, n_val=64)


def _no_seconds(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns="seconds")


def _timeless(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "train_seconds"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One real run of CFG into a module-level cache directory: (cache root, Result)."""
    root, result = train_into_cache(tmp_path_factory, CFG, name="base_cache", data_dir=DATA_DIR)
    assert not result.from_cache and result.path is not None and result.path.parent == root
    return root, result


@pytest.fixture
def cache(base, tmp_path, monkeypatch) -> Path:
    """A private copy of the base cache, set as AECORE_CACHE_DIR."""
    root = tmp_path / "cache"
    shutil.copytree(base[0], root)
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
    return root


@pytest.fixture
def fake_training(base, monkeypatch) -> list:
    """Replaces training + evaluation by the base run's outputs; records each call."""
    calls = []

    def fake(cfg, *, progress, prefix):
        calls.append(cfg)
        return training.History(base[1].history, base[1].steps), dict(base[1].metrics), base[1].model

    monkeypatch.setattr(experiments, "_train_and_evaluate", fake)
    return calls


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))  # not the folder's key


# --------------------------------------------------------------------------- Config


@pytest.mark.parametrize("field,value,match", [
    ("dataset", "cifar10", "mnist, fashion_mnist"),
    ("model", "vgg", "conv_ae, conv_ae_bn, dense_ae"),
    ("loss", "hinge", "gaussian, bernoulli"),
    ("binarize", "otsu", "'threshold', 'dynamic'"),
    ("reduction", "sum", "per_pixel"),
    ("epochs", 0, "epochs must be a positive integer"),
    ("n_train", -5, "n_train"),
    ("batch_size", 1.5, "batch_size"),
    ("seed", -1, "seed"),
    ("learning_rate", 0.0, "learning_rate"),
    ("model_kwargs", {"depth": 3}, "latent_dim"),
    ("model_kwargs", {"latent_dim": [1, 2]}, "JSON"),
])
def test_config_rejects_invalid_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        CFG.replace(**{field: value})


def test_config_is_canonical_hashable_and_json_round_trips():
    a = Config(dataset="fashion-mnist", model="dense_ae", loss="bce", seed=2,
               model_kwargs={"latent_dim": 8, "activation": "relu"})
    b = Config(dataset="fashion_mnist", model="dense_ae", loss="bernoulli", seed=2,
               model_kwargs=(("activation", "relu"), ("latent_dim", 8)))
    assert a == b and hash(a) == hash(b) and a.cache_key() == b.cache_key()
    assert a.loss == "bernoulli" and a.model_kwargs == (("activation", "relu"), ("latent_dim", 8))
    assert Config.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert a.replace(seed=3).cache_key() != a.cache_key()
    assert a.replace(learning_rate=1e-3) == a.replace(learning_rate=0.001)
    assert a.label() == "fashion_mnist dense_ae bce activation=relu latent_dim=8 seed 2"
    with pytest.raises(Exception):
        a.seed = 5  # frozen


def test_cache_key_covers_config_code_and_version(monkeypatch):
    canonical = json.dumps({"aecore_version": aecore.__version__, "code": fingerprint.code_fingerprint(),
                            "config": json.loads(CFG.canonical_json()), "kind": "autoencoder"},
                           sort_keys=True, separators=(",", ":"))
    assert CFG.cache_key() == hashlib.sha256(canonical.encode()).hexdigest()
    before = CFG.cache_key()
    monkeypatch.setattr(aecore, "__version__", "99.0")
    assert CFG.cache_key() != before


def test_from_profile_takes_sizes_from_the_profile(monkeypatch):
    monkeypatch.delenv("AECORE_PROFILE", raising=False)
    cfg = Config.from_profile("fast", dataset="mnist", model="conv_ae", loss="mse")
    fast = aecore.PROFILES["fast"]
    assert (cfg.n_train, cfg.n_test, cfg.epochs, cfg.batch_size, cfg.n_val) == (
        fast.n_train, fast.n_test, fast.epochs, fast.batch_size, fast.n_val)
    assert Config.from_profile(fast, dataset="mnist", model="conv_ae", loss="mse", epochs=1).epochs == 1
    assert Config.from_profile(fast, dataset="mnist", model="conv_ae", loss="mse", n_val=7).n_val == 7
    # The full profile's configs are the plain defaults (so their cache keys did not move).
    assert Config.from_profile("full", dataset="mnist", model="conv_ae", loss="mse") == Config(
        dataset="mnist", model="conv_ae", loss="mse")


def test_validation_size_changes_nothing_that_is_trained(base, cache):
    """n_val only sets how many test images are scored after each epoch: the weights, the
    training losses and every test metric are bit-identical for 64, 16 and 0 validation
    images, and val_loss is the mean NLL of the first n_val test images (independent oracle:
    the trained model's reconstructions, scored in NumPy)."""
    full = base[1]
    for n_val in (16, 0):
        res = experiments.run(CFG.replace(n_val=n_val), progress=False)
        assert not res.from_cache  # another config: trained afresh, not read
        pd.testing.assert_series_equal(res.history["loss"], full.history["loss"], check_exact=True)
        for a, b in zip(res.model.get_weights(), full.model.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert _timeless({k: v for k, v in res.metrics.items() if k != "final_val_loss"}) == _timeless(
            {k: v for k, v in full.metrics.items() if k != "final_val_loss"})
        if n_val == 0:
            assert res.history["val_loss"].isna().all()
            continue
        x = experiments.load_data(CFG).test.x[:n_val].astype(np.float64)
        p = res.model.reconstruct(x.astype(np.float32)).astype(np.float64).clip(1e-7, 1 - 1e-7)
        nll = -np.mean(x * np.log(p) + (1 - x) * np.log1p(-p))  # nats per pixel
        np.testing.assert_allclose(res.history["val_loss"].iloc[-1], nll, rtol=2e-3)


# --------------------------------------------------------------------------- runs


def test_result_contents(base):
    result = base[1]
    assert len(result.history) == CFG.epochs
    m = result.metrics
    for key in ("mse_per_pixel", "bce_per_pixel", "psnr_db", "ssim", "mse_ratio_to_mean_image",
                "mse_ratio_to_pca16", "dead_units", "latent_dim", "train_seconds"):
        assert key in m and np.isfinite(m[key])
    assert m["n_images"] == CFG.n_test and m["latent_dim"] == 16 and 0 <= m["dead_units"] <= 16
    assert sorted(os.listdir(result.path)) == sorted([*experiments.ENTRY_FILES, store.MANIFEST])
    x_hat = result.reconstruct(np.zeros((3, 28, 28, 1), np.float32))
    assert x_hat.shape == (3, 28, 28, 1) and ((x_hat >= 0) & (x_hat <= 1)).all()


def test_same_seed_gives_an_identical_run(base, cache):
    again = experiments.run(CFG, cache=False, progress=False)
    assert not again.from_cache and again.path is None
    pd.testing.assert_frame_equal(_no_seconds(again.history), _no_seconds(base[1].history), check_exact=True)
    assert _timeless(again.metrics) == _timeless(base[1].metrics)


def test_cache_hit_skips_training_and_returns_the_same_result(base, cache, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(training, "fit", no_training)
    hit = experiments.run(CFG, progress=False)
    assert hit.from_cache and hit.path == cache / base[1].path.name
    assert hit.metrics == base[1].metrics
    pd.testing.assert_frame_equal(hit.history, base[1].history, check_exact=True)
    assert hit.history.attrs["unit"] == "nats per pixel"
    for w_hit, w_base in zip(hit.model.get_weights(), base[1].model.get_weights()):
        np.testing.assert_array_equal(w_hit, w_base)
    # An alias of the same config is the same entry.
    assert experiments.run(CFG.replace(loss="bernoulli"), progress=False).from_cache


def test_another_seed_is_a_miss_and_differs(base, cache):
    other = experiments.run(CFG.replace(seed=1), progress=False)
    assert not other.from_cache
    assert len(_entries(cache)) == 2
    assert not np.array_equal(other.history["loss"].to_numpy(), base[1].history["loss"].to_numpy())


def test_truncated_weights_are_detected_and_retrained(base, cache):
    entry = cache / base[1].path.name
    weights = entry / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(store.CacheWarning, match=rf"{entry.name}.*model\.weights\.h5"):
        again = experiments.run(CFG, progress=False)
    assert not again.from_cache
    assert _timeless(again.metrics) == _timeless(base[1].metrics)  # a real, identical retrain
    assert experiments.run(CFG, progress=False).from_cache  # the entry was rewritten whole


def test_reading_without_the_model_builds_none_and_still_verifies(base, cache, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was built")

    with monkeypatch.context() as m:
        m.setattr(models, "build_model", no_model)
        hit = experiments.run(CFG, progress=False, load_model=False)
        table = experiments.sweep([CFG], progress=False)  # sweeps need only metrics
    assert hit.from_cache and hit.model is None and hit.metrics == base[1].metrics
    pd.testing.assert_frame_equal(hit.history, base[1].history, check_exact=True)
    assert table["from_cache"].tolist() == [True] and table.loc[0, "ssim"] == base[1].metrics["ssim"]
    with pytest.raises(ValueError, match=r"without its model.*run\(cfg\)"):
        hit.reconstruct(np.zeros((1, 28, 28, 1), np.float32))
    # The weights' checksum is checked even when they are not loaded: a truncated file is
    # caught, and the run retrained (with its model, as every trained run returns).
    weights = cache / base[1].path.name / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(store.CacheWarning, match=r"model\.weights\.h5"):
        again = experiments.run(CFG, progress=False, load_model=False)
    assert not again.from_cache and again.model is not None


def test_edited_metrics_are_detected(base, cache, fake_training):
    path = cache / base[1].path.name / "metrics.json"
    path.write_text(path.read_text().replace('"dead_units": ', '"dead_units": 1'))
    with pytest.warns(store.CacheWarning, match=r"metrics\.json does not match its checksum"):
        result = experiments.run(CFG, progress=False)
    assert not result.from_cache and len(fake_training) == 1


def test_a_sweep_names_a_cached_run_it_has_to_retrain(base, cache, fake_training, capsys):
    path = cache / base[1].path.name / "metrics.json"
    path.write_text(path.read_text().replace('"dead_units": ', '"dead_units": 1'))
    with pytest.warns(store.CacheWarning, match=r"deleted it; retraining"):
        table = experiments.sweep([CFG])
    assert table["from_cache"].tolist() == [False] and len(fake_training) == 1
    assert f"{CFG.label()}: training 1 epoch(s)" in capsys.readouterr().out


def test_entry_for_a_different_config_is_never_used(base, cache, fake_training):
    entry = cache / base[1].path.name
    stored = json.loads((entry / "config.json").read_text())
    stored["config"]["seed"] = 7  # as if another config had been written here ...
    (entry / "config.json").write_text(json.dumps(stored))
    manifest = json.loads((entry / "manifest.json").read_text())  # ... with valid checksums
    manifest["files"]["config.json"] = hashlib.sha256((entry / "config.json").read_bytes()).hexdigest()
    (entry / "manifest.json").write_text(json.dumps(manifest))
    store.sign_manifest(entry, store.signing_key(cache))  # ... and signed by this cache
    with pytest.warns(store.CacheWarning, match="different config"):
        result = experiments.run(CFG, progress=False)
    assert not result.from_cache and len(fake_training) == 1


def test_entry_trained_on_other_images_is_not_used(base, cache, fake_training, monkeypatch):
    monkeypatch.setattr(experiments, "data_fingerprint", lambda cfg: "0" * 64)
    with pytest.warns(store.CacheWarning, match="other images"):
        assert not experiments.run(CFG, progress=False).from_cache


def test_missing_manifest_is_detected(base, cache, fake_training):
    (cache / base[1].path.name / "manifest.json").unlink()
    with pytest.warns(store.CacheWarning, match="manifest.json is missing"):
        assert not experiments.run(CFG, progress=False).from_cache


def test_crash_while_writing_leaves_no_entry(cache, fake_training, monkeypatch):
    shutil.rmtree(cache)

    def crash(folder, key):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(store, "_write_manifest", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        experiments.run(CFG, progress=False)
    assert _entries(cache) == []  # neither an entry nor a leftover temp dir


def test_unwritable_cache_warns_and_still_returns(cache, fake_training, monkeypatch):
    shutil.rmtree(cache)

    def disk_full(folder, key):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_manifest", disk_full)
    with pytest.warns(store.CacheWarning, match="could not write"):
        result = experiments.run(CFG, progress=False)
    assert not result.from_cache and result.path is None and _entries(cache) == []


def test_sweep_is_tidy_and_reports_progress(base, cache, capsys):
    configs = [CFG, CFG.replace(binarize="threshold", n_train=128)]
    table = experiments.sweep(configs)
    assert len(table) == 2
    assert table["from_cache"].tolist() == [True, False]
    assert table["binarize"].tolist()[1] == "threshold" and table["loss_name"].tolist() == ["BCE", "BCE"]
    assert table.loc[0, "mse_per_pixel"] == base[1].metrics["mse_per_pixel"]
    assert np.isnan(table.loc[0, "vs_grey_mse_per_pixel"]) and table.loc[1, "vs_grey_mse_per_pixel"] > 0
    out = capsys.readouterr().out
    # Only the run that trains gets a header and epoch lines; the cached read prints nothing.
    assert "run 1/2" not in out and "from the cache" not in out and CFG.label() + ":" not in out
    assert "run 2/2: mnist conv_ae bce binarize=threshold seed 0" in out
    assert "epoch 1/1: loss" in out
    summary = tables.summarize_seeds(table, ["mse_per_pixel"], by=["binarize"])
    assert summary[("mse_per_pixel", "count")].tolist() == [1, 1]


def test_score_binarised_on_grey_uses_grey_metrics_and_baselines():
    import pandas as pd

    from aecore.tables import score_binarised_on_grey

    rows = [
        {"label": "grey", "dataset": "mnist", "n_train": 10, "n_test": 5, "train_subset_seed": 0, "test_subset_seed": 0, "binarize": None,
         "mse_per_pixel": 0.02, "mean_image_mse_per_pixel": 0.08, "pca16_mse_per_pixel": 0.04,
         "mse_ratio_to_mean_image": 0.25, "mse_ratio_to_pca16": 0.5, "ssim": 0.7, "psnr_db": 17.0,
         "bce_per_pixel": 0.2, "bce_excess_per_pixel": 0.1},
        {"label": "bin", "dataset": "mnist", "n_train": 10, "n_test": 5, "train_subset_seed": 0, "test_subset_seed": 0, "binarize": "threshold",
         "mse_per_pixel": 0.01, "mean_image_mse_per_pixel": 0.1, "pca16_mse_per_pixel": 0.05,
         "mse_ratio_to_mean_image": 0.1, "mse_ratio_to_pca16": 0.2, "ssim": 0.9, "psnr_db": 20.0,
         "bce_per_pixel": 0.1, "bce_excess_per_pixel": 0.1,
         "vs_grey_mse_per_pixel": 0.04, "vs_grey_ssim": 0.6, "vs_grey_psnr_db": 14.0,
         "vs_grey_bce_per_pixel": 0.3, "vs_grey_bce_excess_per_pixel": 0.2},
    ]
    out = score_binarised_on_grey(pd.DataFrame(rows)).set_index("label")
    assert out.loc["bin", "mse_per_pixel"] == 0.04 and out.loc["bin", "ssim"] == 0.6
    assert out.loc["bin", "mse_ratio_to_mean_image"] == pytest.approx(0.04 / 0.08)
    assert out.loc["bin", "mse_ratio_to_pca16"] == pytest.approx(0.04 / 0.04)
    assert out.loc["grey", "mse_per_pixel"] == 0.02  # grey rows untouched
    with pytest.raises(ValueError, match="no grey run"):
        score_binarised_on_grey(pd.DataFrame(rows[1:]))


def test_compare_settings_uses_seed_spread():
    import pandas as pd

    from aecore.tables import compare_settings, summarize_seeds

    table = pd.DataFrame({"setting": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
                          "mse": [1.0, 1.1, 0.9, 2.0, 2.1, 1.9, 1.05, 1.15, 0.95]})
    stats = summarize_seeds(table, ["mse"], by=["setting"])
    assert compare_settings(stats, "a", "b", "mse").word == "better"
    assert compare_settings(stats, "b", "a", "mse").word == "worse"
    assert compare_settings(stats, "a", "b", "mse", lower_is_better=False).word == "worse"
    same = compare_settings(stats, "c", "a", "mse")
    assert same.word == "same" and same.diff == pytest.approx(0.05) and same.noise == pytest.approx(0.2)


def test_cache_key_names_a_revised_model(monkeypatch):
    """A model whose computation changed (revision > 1) gets keys no older run has."""
    cfg = CFG.replace(model="conv_ae_bn")
    unrevised = json.dumps({"aecore_version": aecore.__version__, "code": fingerprint.code_fingerprint(),
                            "config": json.loads(cfg.canonical_json())}, sort_keys=True, separators=(",", ":"))
    assert cfg.cache_key() != hashlib.sha256(unrevised.encode()).hexdigest()
    before = cfg.cache_key()
    spec = models.MODELS["conv_ae_bn"]
    monkeypatch.setitem(models.MODELS, "conv_ae_bn", dataclasses.replace(spec, revision=spec.revision + 1))
    assert cfg.cache_key() != before


def test_val_images_is_the_validation_prefix_actually_scored():
    assert CFG.replace(n_val=16).val_images == 16
    assert CFG.replace(n_val=10_000).val_images == CFG.n_test  # capped by the test images
    assert CFG.replace(n_val=0).val_images == 0


def _tiny(seed: int = 0) -> Config:
    return Config(dataset="mnist", model="dense_ae", loss="bce", n_train=32, n_test=32, n_val=0, epochs=1,
                  batch_size=32, seed=seed, model_kwargs={})


def test_an_entry_that_is_a_plain_file_is_reported_and_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV_VAR, str(tmp_path))
    cfg = _tiny()
    path = experiments.entry_path(cfg)
    path.write_text("not an entry")
    with pytest.warns(store.CacheWarning, match=r"is unusable: it is not a folder; deleted it; retraining"):
        result = experiments.run(cfg, progress=False)
    assert not result.from_cache and path.is_dir()
    assert experiments.run(cfg, progress=False).from_cache


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and deletes anything: the case needs another account")
def test_an_unreadable_entry_of_another_account_is_reported_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV_VAR, str(tmp_path))
    cfg = _tiny(1)
    experiments.run(cfg, progress=False)
    path = experiments.entry_path(cfg)
    path.chmod(0o000)
    tmp_path.chmod(0o500)  # and the cache folder read-only: it cannot be deleted either
    try:
        with pytest.warns(store.CacheWarning, match=r"it cannot be read .*could not delete it"):
            assert not experiments.run(cfg, progress=False).from_cache
    finally:
        tmp_path.chmod(0o700)
        path.chmod(0o700)


def test_a_read_only_cache_folder_gets_a_truthful_warning(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV_VAR, str(tmp_path))
    cfg = _tiny(2)
    experiments.run(cfg, progress=False)
    path = experiments.entry_path(cfg)
    (path / "metrics.json").write_text("[1, 2]")  # damaged: its checksum no longer matches
    monkeypatch.setattr(store.shutil, "rmtree",
                        lambda p, **kw: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.warns(store.CacheWarning, match=r"could not delete it \(Permission denied\); retraining"):
        experiments.run(cfg, progress=False)


def _forge(path, name: str, text: str) -> None:
    """Edits one file of an entry, rewrites the manifest to match and signs it again with the cache
    folder's key (only its own account can): what neither checksums nor signature can catch."""
    (path / name).write_text(text)
    manifest = json.loads((path / store.MANIFEST).read_text())
    manifest["files"][name] = store.sha256_file(path / name)
    (path / store.MANIFEST).write_text(json.dumps(manifest))
    store.sign_manifest(path, store.signing_key(path.parent))


@pytest.mark.parametrize("name, text, message", [
    ("metrics.json", "[1, 2]", "metrics.json holds a list, not an object of metrics"),
    ("metrics.json", '{"mse_per_pixel": "low"}', "metrics.json: mse_per_pixel not numbers"),
    ("metrics.json", '{"mse_per_pixel": 0.1}', "metrics.json lacks bce_per_pixel"),
    ("history.csv", "epoch,loss\n1,0.1\n", "history.csv lacks the column"),
    ("history.csv", "epoch,loss,val_loss,val_mse,seconds\n1,0.1,0.1,0.1,1\n2,0.1,0.1,0.1,1\n", r"history.csv has epochs \[1, 2\]"),
    ("history.csv", "epoch,loss,val_loss,val_mse,seconds\n1,nan,0.1,0.1,1\n", "non-finite training loss"),
])
def test_an_entry_forged_with_a_matching_manifest_is_caught_by_its_content(tmp_path, monkeypatch, name, text,
                                                                           message):
    monkeypatch.setenv(store.CACHE_ENV_VAR, str(tmp_path))
    cfg = _tiny(3)
    experiments.run(cfg, progress=False)
    _forge(experiments.entry_path(cfg), name, text)
    with pytest.warns(store.CacheWarning, match=message):
        assert not experiments.run(cfg, progress=False).from_cache


def test_each_seed_trains_on_its_own_subset_and_all_are_scored_on_the_same_test_images():
    """Issue 19's protocol: the seed varies the training subset as well as the weights; the test
    images stay fixed. Oracle: data.load called directly with the seeds the protocol names."""
    import numpy as np

    from aecore import data, runner, vae_runs
    from aecore.experiments import Config, _data_key, load_data

    base = dict(dataset="fashion_mnist", model="dense_ae", n_train=50, n_test=40)
    for seed in (0, 3):
        cfg = Config(loss="mse", seed=seed, **base)
        ds = load_data(cfg)
        direct_train = data.load("fashion_mnist", n_train=50, n_test=1, seed=seed).train.x
        direct_test = data.load("fashion_mnist", n_train=1, n_test=40, seed=0).test.x
        np.testing.assert_array_equal(ds.train.x, direct_train)
        np.testing.assert_array_equal(runner.training_images_of(_data_key(cfg)), direct_train)
        np.testing.assert_array_equal(runner.test_images(cfg), direct_test)
        np.testing.assert_array_equal(ds.test.x, direct_test)
        # the other arm at the same seed: the same images
        assert cfg.data_fingerprint() == Config(loss="bce", seed=seed, **base).data_fingerprint()
        vcfg = vae_runs.VAEConfig(dataset="fashion_mnist", n_train=50, n_test=40, seed=seed)
        v_train, v_test = vae_runs._images(vcfg)
        np.testing.assert_array_equal(v_train, direct_train)
        np.testing.assert_array_equal(v_test, direct_test)
    s0, s3 = (load_data(Config(loss="mse", seed=s, **base)).train.x for s in (0, 3))
    assert not np.array_equal(s0, s3)
    assert Config(loss="mse", seed=0, **base).data_fingerprint() != Config(loss="mse", seed=3, **base).data_fingerprint()
    # an explicit data_seed fixes both subsets for every seed
    fixed = [load_data(Config(loss="mse", seed=s, data_seed=2, **base)) for s in (0, 3)]
    np.testing.assert_array_equal(fixed[0].train.x, fixed[1].train.x)
    np.testing.assert_array_equal(fixed[0].test.x, data.load("fashion_mnist", n_train=1, n_test=40, seed=2).test.x)
    # a whole split (offline MNIST's 5,000 training images) is the same for every seed
    whole = [load_data(Config(dataset="mnist", model="dense_ae", loss="mse", seed=s, n_train=5000, n_test=10))
             for s in (0, 4)]
    np.testing.assert_array_equal(whole[0].train.x, whole[1].train.x)


def test_one_image_loader_for_both_kinds_gives_what_data_load_gives():
    """runner.training_images / test_images serve autoencoders and VAEs alike; oracle: data.load
    called directly, for grey, thresholded and dynamically binarised runs of both kinds."""
    import numpy as np

    from aecore import data, runner, vae_runs
    from aecore.experiments import Config, _data_key

    base = dict(dataset="mnist", n_train=30, n_test=20, seed=2)
    for binarize in (None, "threshold", "dynamic"):
        cfg = Config(model="dense_ae", loss="bce", binarize=binarize, **base)
        loaded = "threshold" if binarize == "threshold" else None  # dynamic: grey, sampled every step
        want_train = data.load("mnist", n_train=30, n_test=1, seed=2, binarize=loaded).train.x
        want_test = data.load("mnist", n_train=5, n_test=20, seed=0, binarize=binarize).test.x
        got = runner.training_images_of(_data_key(cfg))
        np.testing.assert_array_equal(got, want_train)
        assert not got.flags.writeable  # memoised: shared by every arm, so nobody may write into it
        np.testing.assert_array_equal(runner.test_images(cfg), want_test)
        if binarize != "threshold":  # VAEs: grey or dynamically binarised
            vcfg = vae_runs.VAEConfig(binarize=binarize, **base)
            v_train, v_test = vae_runs._images(vcfg)
            np.testing.assert_array_equal(v_train, want_train)
            np.testing.assert_array_equal(v_test, want_test)
            assert runner.training_images(vcfg) is runner.training_images(cfg)  # one memo for both kinds
    assert set(np.unique(runner.test_images(Config(model="dense_ae", loss="bce", binarize="dynamic", **base)))) <= {0.0, 1.0}
