"""benchmarks/reproduce.py: the reference it compares against is the full build's, and its
comparison is exact (a one-ulp change is a difference; NaN equals NaN)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks import reproduce


def test_comparison_is_bit_exact():
    x = 0.017490831426639125
    assert reproduce.same_json({"a": [x, math.nan]}, {"a": [x, math.nan]})
    assert not reproduce.same_json({"a": [x]}, {"a": [math.nextafter(x, 1.0)]})  # one ulp: different
    assert not reproduce.same_json({"a": [x]}, {"a": [x, x]})
    assert not reproduce.same_json({"a": 1}, {"b": 1})


def test_differences_say_what_differs_and_by_how_much():
    ref = {"history": {"epoch": [1, 2], "loss": [0.5, 0.25], "norm": [2.0, 4.0]}, "metrics": {"mse": 0.1, "n": 3}}
    assert reproduce.differences(ref, ref) == []
    new = {"history": {"epoch": [1, 2], "loss": [0.5, math.nextafter(0.25, 1.0)], "norm": [2.0]},
           "metrics": {"mse": 0.1 * (1 + 1e-7), "n": 3}}
    assert reproduce.differences(ref, new) == [
        "history loss: 1 of 2 epochs differ, largest relative 2.2e-16",
        "history norm: 1 epochs, not 2",
        "metric mse: relative 1.0e-07"]
    assert reproduce.differences(ref, {"history": {"epoch": [1, 2], "loss": [0.5, 0.25]}, "metrics": {"n": 3}}) == [
        "history norm: missing", "metric mse: 0.1 -> None"]


def test_the_reference_holds_the_sample_of_every_training_chapter():
    ref = json.loads(Path(reproduce.REFERENCE).read_text())
    sample = reproduce.sample()
    assert set(ref) == set(sample) == {"chapter 3", "chapter 4", "chapter 5", "chapter 6"}
    for name, cfg in sample.items():
        assert ref[name]["config"] == json.loads(json.dumps(cfg.to_dict())), name
        assert ref[name]["cache_key"] == cfg.cache_key(), f"{name}: re-record the reference after `make book`"
        assert len(ref[name]["history"]["epoch"]) == cfg.epochs


def test_the_reference_records_the_machine_and_a_check_names_another_one():
    ref = json.loads(Path(reproduce.REFERENCE).read_text())
    assert all(set(row["machine"]) == {"cpu", "cpu_id", "cores"} for row in ref.values())
    here = reproduce.machine()
    assert reproduce.machine_note(here, here) is None and reproduce.machine_note(None, here) is None
    other = {"cpu": "Some Other CPU", "cores": 64}
    note = reproduce.machine_note(other, here)
    assert "Some Other CPU (CPU id not recorded; 64 cores)" in note and here["cpu"] in note and "re-record" in note
    # the same model name on another microarchitecture (both "AMD EPYC" under a hypervisor) is another CPU
    sibling = {**here, "cpu_id": "AuthenticAMD family 25 model 1; avx2 fma"}
    assert reproduce.machine_note(sibling, here) is not None


def test_the_cpu_identity_names_family_model_and_the_kernel_choosing_instruction_sets():
    from benchmarks.results import cpu_identity, cpuinfo_fields

    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
            "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n\n"
            "processor\t: 1\nvendor_id\t: GenuineIntel\n")
    fields = cpuinfo_fields(text)
    assert fields["model name"] == "AMD EPYC" and fields["vendor_id"] == "AuthenticAMD"  # the first processor's
    assert cpu_identity(fields) == "AuthenticAMD family 25 model 17; avx2 fma avx512f avx512_vnni"
    assert cpu_identity({}).startswith("? family ? model ?; none of avx2")
