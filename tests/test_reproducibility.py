"""The numerics policy: every x86-64 CPU computes the course's numbers bit for bit (gvcourse.reproducibility).

We cannot run on an AMD or an AVX2-only CPU here, so the tests make this CPU choose what such a CPU would:
PyTorch's AVX2 kernels, MKL's AVX2 code (MKL_ENABLE_INSTRUCTIONS), oneDNN capped at AVX2 — and another thread
count. Under the policy the results must not move; without it they must (otherwise the emulation proves
nothing). setup_notebook() applies the policy in every chapter, and the whole suite's strict nbval runs on the
emulated CPU (conftest.py) against outputs stored with this machine's own choices.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from emulated_cpu import AVX2_CPU
from notebooks import ROOT, read, toc_notebooks

from gvcourse import reproducibility

POLICY_VARS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
               "OMP_NUM_THREADS", "MKL_NUM_THREADS")

needs_avx2 = pytest.mark.skipif(not reproducibility._cpu_has_avx2(), reason="the policy needs an x86-64 CPU with AVX2")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    return {**env, **extra}


def _run(code_or_args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip() + proc.stderr.strip()


def _probe(mode: str, **extra: str) -> str:
    return _run(["tests/reproducibility_probe.py", mode], _env(**extra)).split()[-1]


STATE = ("import gvcourse, dataclasses, json; gvcourse.use_reproducible_numerics(); "
         "print(json.dumps(dataclasses.asdict(gvcourse.reproducibility.numerics_in_effect())))")


@pytest.mark.slow  # a fresh interpreter per case
@needs_avx2
def test_the_policy_takes_effect_whatever_the_environment():
    for extra in ({"OMP_NUM_THREADS": "2"}, {**AVX2_CPU, "MKL_NUM_THREADS": "1"}):
        state = json.loads(_run(["-W", "error", "-c", STATE], _env(**extra)))
        assert state == {"cpu_capability": "AVX2", "mkl_branch": "COMPATIBLE", "onednn_enabled": False, "threads": 1}


@pytest.mark.slow  # trains in three fresh interpreters
@needs_avx2
def test_training_is_bit_identical_on_an_emulated_avx2_cpu_and_any_thread_count():
    here = _probe("policy", OMP_NUM_THREADS="2")
    assert _probe("policy", **AVX2_CPU, OMP_NUM_THREADS="1") == here
    assert _probe("policy", **AVX2_CPU, OMP_NUM_THREADS="2") == here


@pytest.mark.slow  # trains in two fresh interpreters
@needs_avx2
def test_without_the_policy_the_emulated_cpu_gives_other_bits():
    """The control: the emulation changes the results unless the policy is in force (else the test above is void)."""
    assert _probe("native", OMP_NUM_THREADS="1") != _probe("native", **AVX2_CPU, OMP_NUM_THREADS="1")


@pytest.mark.slow  # a fresh interpreter per case
def test_a_late_call_warns_and_says_what_to_do():
    code = ("import torch, warnings; torch.ones(4, 4) @ torch.ones(4, 4); import gvcourse\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always'); gvcourse.use_reproducible_numerics()\n"
            "print('|'.join(str(x.message) for x in w))")
    out = _run(["-c", code], _env())
    if reproducibility._cpu_has_avx2():
        assert "did not take effect" in out and "Restart the kernel" in out
    else:
        assert "no AVX2" in out


@pytest.mark.slow  # a fresh interpreter per case
@needs_avx2
def test_setup_notebook_applies_the_policy_whatever_the_environment():
    code = ("import gvcourse, torch; gvcourse.setup_notebook(); a = torch.get_num_threads(); "
            "ok = gvcourse.reproducibility.numerics_in_effect().reproducible; "
            "gvcourse.setup_notebook(threads=2); print(a, torch.get_num_threads(), ok)")
    assert _run(["-W", "error", "-c", code], _env(OMP_NUM_THREADS="2")).split() == ["1", "2", "True"]


def test_bad_thread_counts_are_refused_before_anything_changes():
    with pytest.raises(ValueError, match="threads"):
        reproducibility.use_reproducible_numerics(0)
    with pytest.raises(TypeError, match="threads"):
        reproducibility.use_reproducible_numerics("2")
    with pytest.raises(ValueError, match="threads"):
        import gvcourse

        gvcourse.setup_notebook(threads=0)


def test_every_notebook_sets_up_before_computing():
    """The first code cell after the install cell calls setup_notebook() after nothing but imports and aliases."""
    for path in toc_notebooks():
        cells = [c for c in read(path).cells
                 if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])]
        lines = [ln for ln in cells[0].source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        call = next((i for i, ln in enumerate(lines) if "setup_notebook(" in ln), None)
        assert call is not None, f"{path.name}: its first code cell does not call gvcourse.setup_notebook()"
        harmless = r"\s*(import |from \S+ import |\)|\w+,|\w+ = [\w.]+$|[\w, ]+\)$)"  # imports, aliases
        before = [ln for ln in lines[:call] if not re.match(harmless, ln)]
        assert not before, f"{path.name}: computes before setup_notebook(): {before}"
        assert not any("set_num_threads" in c.source for c in cells), f"{path.name}: the policy owns the threads"
