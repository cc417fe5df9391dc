"""gvcourse.labs: every checker accepts the reference answer and rejects wrong ones with feedback;
the student versions of the labs (scripts/student_labs.py) contain no solution and still run."""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import student_labs
import torch
from nbclient import NotebookClient
from notebooks import ROOT

from gvcourse import GradientFlow, Value, labs, nets
from gvcourse.labs import lab1

# -- reference answers, computed independently of the checkers -------------------------------------------------


def _hand_gradient():
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in labs.LAB1_POINT.items()}
    x, w, b = leaves.values()
    loss = torch.tanh(x * w + b) * x
    return {k: g.item() for k, g in zip(leaves, torch.autograd.grad(loss, list(leaves.values())))}


def _softplus(v):
    out = Value(max(v.data, 0.0) + math.log1p(math.exp(-abs(v.data))), (v,), "softplus")

    def _backward():
        v.grad += out.grad / (1.0 + math.exp(-v.data))

    out._backward = _backward
    return out


def _broken_op():
    """The operation of SuspectValue whose gradient differs from torch's in f(x) = op(x)·x + x."""
    ops = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp, "relu": torch.relu, "log": torch.log}
    for name, fn in ops.items():
        x = labs.SuspectValue(0.8)
        (getattr(x, name)() * x + x).backward()
        t = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fn(t) * t + t, t)
        if abs(x.grad - g.item()) > 1e-9:
            return name
    raise AssertionError("no broken unary operation found")


def _lab2_ratio():
    model = labs.lab2_broken_model()
    (x, y), _ = labs.lab2_task()
    with labs.single_thread(), GradientFlow(model) as flow:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    norms = list(flow.grad_norms().values())
    return norms[0] / norms[-1]


def _rnn_bound():
    w = labs.lab3_rnn().weight_hh_l0.detach().double()
    sigma = torch.linalg.svdvals(w).max().item()
    return [sigma ** t for t in range(1, labs.LAB3_T + 1)]


def _generator_grads():
    a = np.array(labs.LAB3_LOGITS)
    s = 1 / (1 + np.exp(-a))
    return {"minimax": list(-s), "non_saturating": list(-(1 - s))}


REFERENCE = {
    "lab1-hand-gradient": _hand_gradient,
    "lab1-softplus": lambda: _softplus,
    "lab1-find-bug": _broken_op,
    "lab2-gradient-ratio": _lab2_ratio,
    "lab2-shrink-factor": lambda: math.sqrt(32 * (1 / (3 * 32)) * (1 / 16)),
    "lab2-rescue": lambda: nets.mlp(20, 32, 16, 4, activation="relu", init="he_normal", norm="batch",
                                    residual=True, seed=0),
    "lab3-rnn-bound": _rnn_bound,
    "lab3-generator-grad": _generator_grads,
}


def _wrong_value(ex):
    ref = REFERENCE[ex]()
    if ex == "lab1-hand-gradient":
        return {**ref, "x": ref["x"] * 0.5}
    if ex == "lab1-softplus":
        return lambda v: (v.exp() + 2).log()  # log(2 + e^v): wrong values
    if ex == "lab1-find-bug":
        return "exp"
    if ex == "lab2-rescue":
        return labs.lab2_broken_model()  # deep, right shape, does not train
    if ex == "lab3-generator-grad":
        return {"minimax": [1.0] * len(labs.LAB3_LOGITS), "non_saturating": ref["non_saturating"]}
    if isinstance(ref, list):
        return [v * 1.5 for v in ref]
    return ref * 1.5


WRONG_TYPE = {
    "lab1-hand-gradient": "a string", "lab1-softplus": 3.0, "lab1-find-bug": 7, "lab2-gradient-ratio": "1e-17",
    "lab2-shrink-factor": [0.144, 0.2], "lab2-rescue": "a model", "lab3-rnn-bound": 0.5,
    "lab3-generator-grad": [1.0, 2.0],
}
WRONG_SHAPE = {
    "lab1-hand-gradient": [1.0, 2.0], "lab1-softplus": lambda v: v.data, "lab1-find-bug": "softmax",
    "lab2-gradient-ratio": torch.ones(3), "lab2-shrink-factor": np.ones((2, 2)),
    "lab2-rescue": nets.mlp(20, 32, 16, 3, seed=0),
    "lab3-rnn-bound": list(range(1, 11)), "lab3-generator-grad": {"minimax": [0.0], "non_saturating": [0.0]},
}


def test_at_least_six_exercises_across_all_labs():
    ids = labs.exercise_ids()
    assert len(ids) >= 6 and set(REFERENCE) == set(ids)
    for lab in ("lab1", "lab2", "lab3"):
        assert sum(i.startswith(lab) for i in ids) >= 2


@pytest.mark.parametrize("exercise", list(REFERENCE))
def test_reference_answer_passes(exercise):
    result = labs.check(exercise, REFERENCE[exercise]())
    assert result, repr(result)
    assert result.passed and "correct" in repr(result) and result.feedback


@pytest.mark.parametrize("kind", ["value", "type", "shape"])
@pytest.mark.parametrize("exercise", list(REFERENCE))
def test_wrong_answers_get_feedback(exercise, kind):
    answer = {"value": lambda: _wrong_value(exercise), "type": lambda: WRONG_TYPE[exercise],
              "shape": lambda: WRONG_SHAPE[exercise]}[kind]()
    result = labs.check(exercise, answer)
    assert not result and not result.passed
    text = repr(result)
    assert "not yet" in text and "Hint:" in text and result.feedback
    assert "Traceback" not in text and "not yet" in result._repr_html_()


@pytest.mark.parametrize("exercise", list(REFERENCE))
@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholder_is_not_an_answer(exercise, placeholder):
    result = labs.check(exercise, placeholder)
    assert not result and "No answer yet" in result.feedback


def test_placeholders_inside_containers():
    assert "No answer yet" in labs.check("lab1-hand-gradient", {"x": ..., "w": ..., "b": ...}).feedback
    assert "No answer yet" in labs.check("lab3-generator-grad", {"minimax": ..., "non_saturating": ...}).feedback


def test_targeted_hints_name_the_misconception():
    ref = _hand_gradient()
    one_path = dict(ref, x=-1.5 * 0.5 * (1 - math.tanh(-0.5) ** 2))  # only the path through tanh
    assert "two paths" in labs.check("lab1-hand-gradient", one_path).hint

    def overwriting_softplus(v):
        out = _softplus(v)

        def _backward():
            v.grad = out.grad / (1.0 + math.exp(-v.data))  # = instead of +=

        out._backward = _backward
        return out

    assert "accumulate" in labs.check("lab1-softplus", overwriting_softplus).hint
    assert "inverse" in labs.check("lab2-gradient-ratio", 1 / _lab2_ratio()).feedback
    assert "square root" in labs.check("lab2-shrink-factor", 1 / 48).feedback
    w = labs.lab3_rnn().weight_hh_l0.detach().double()
    rho = torch.linalg.eigvals(w).abs().max().item()
    assert "spectral radius" in labs.check("lab3-rnn-bound", [rho ** t for t in range(1, 31)]).feedback
    flipped = {k: [-v for v in vals] for k, vals in _generator_grads().items()}
    assert "sign" in labs.check("lab3-generator-grad", flipped).feedback


def test_an_answer_that_raises_is_feedback_not_a_traceback():
    def broken(v):
        raise RuntimeError("boom")

    result = labs.check("lab1-softplus", broken)
    assert not result and "RuntimeError: boom" in result.feedback
    for exercise in REFERENCE:
        assert not labs.check(exercise, object())


def test_hostile_answers_are_feedback_not_a_traceback():
    class BrokenDict(dict):
        def values(self):
            raise RuntimeError("values() breaks")

    class BrokenList(list):
        def __iter__(self):
            raise RuntimeError("iteration breaks")

    def exits(v):
        raise SystemExit(3)

    hostile = [BrokenDict(x=1.0), BrokenList([1.0, 2.0, 3.0]), exits, 10 ** 400, [10 ** 400] * 3, float("nan"),
               [math.nan] * 3, torch.tensor(math.nan), {"minimax": [...], "non_saturating": [...]}]
    for exercise in REFERENCE:
        for answer in hostile:
            result = labs.check(exercise, answer)
            assert not result and result.feedback and result.hint, (exercise, answer)
    assert "SystemExit" in labs.check("lab1-softplus", exits).feedback
    assert "finite" in labs.check("lab2-gradient-ratio", 10 ** 400).feedback


def test_complex_or_boolean_vectors_are_not_real_answers():
    ref = list(_hand_gradient().values())
    assert labs.check("lab1-hand-gradient", ref)  # the same numbers as a list pass
    for answer in (np.array(ref) + 5j, torch.tensor(ref, dtype=torch.complex128) + 5j):
        result = labs.check("lab1-hand-gradient", answer)
        assert not result and "real numbers" in result.feedback
    bound = np.array(_rnn_bound())
    assert not labs.check("lab3-rnn-bound", bound + 1j)
    assert not labs.check("lab3-rnn-bound", torch.ones(labs.LAB3_T, dtype=torch.bool))
    grads = _generator_grads()
    assert not labs.check("lab3-generator-grad", {"minimax": np.array(grads["minimax"]) + 1j,
                                                  "non_saturating": grads["non_saturating"]})


def test_rescue_depth_must_be_on_the_path_to_the_loss():
    class Bypass(torch.nn.Module):  # 21 deep layers that the output never sees, and a shallow net that trains
        def __init__(self, scale=None):
            super().__init__()
            self.deep = labs.lab2_broken_model()
            self.shallow = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
            self.scale = scale

        def forward(self, x):
            out = self.shallow(x)
            return out if self.scale is None else out + self.scale * self.deep(x)

    for model in (Bypass(), Bypass(scale=0.0)):
        result = labs.check("lab2-rescue", model)
        assert not result and "receive no gradient" in result.feedback and "deep.fc1" in result.feedback
    frozen = REFERENCE["lab2-rescue"]().requires_grad_(False)
    assert "requires_grad" in labs.check("lab2-rescue", frozen).feedback


def test_rescue_is_measured_in_training_mode():
    train_mode, eval_mode = REFERENCE["lab2-rescue"](), REFERENCE["lab2-rescue"]().eval()
    assert labs.check("lab2-rescue", eval_mode).feedback == labs.check("lab2-rescue", train_mode).feedback
    assert not eval_mode.training  # the student's model is left as it was


def test_rounded_sigma_gets_targeted_feedback():
    sigma = _rnn_bound()[0]
    result = labs.check("lab3-rnn-bound", [round(sigma, 3) ** t for t in range(1, labs.LAB3_T + 1)])
    assert not result and "rounded" in result.feedback and "full precision" in result.hint


def test_generator_grad_accepts_three_significant_digits():
    grads = _generator_grads()
    rounded = {k: [float(f"{v:.3g}") for v in vals] for k, vals in grads.items()}
    assert labs.check("lab3-generator-grad", rounded)
    wrong = dict(grads, non_saturating=[v * 0.9 for v in grads["non_saturating"]])
    result = labs.check("lab3-generator-grad", wrong)
    assert not result and "at a = -8" in result.feedback and "the other is right" in result.feedback


def test_unknown_id_raises_key_error_naming_known_ids():
    with pytest.raises(KeyError) as info:
        labs.check("lab9-nope", 1)
    message = str(info.value)
    assert "lab9-nope" in message and all(ex in message for ex in labs.exercise_ids())
    with pytest.raises(KeyError, match="lab1-hand-gradient"):
        labs.check(3, 1)


def test_result_reprs_are_deterministic_and_escaped():
    result = labs.check("lab1-find-bug", "<script>")
    assert result.__repr__() == labs.check("lab1-find-bug", "<script>").__repr__()
    assert "<script>" not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()
    assert "lab1-find-bug" in labs.describe("lab1-find-bug")


def test_suspect_value_has_exactly_one_broken_operation():
    assert set(lab1._suspect_failures()) == {"tanh"}


def test_single_thread_restores_thread_count():
    before = torch.get_num_threads()
    with labs.single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# -- student versions ----------------------------------------------------------------------------------------------

def _env_with_checkout():
    """The environment with this checkout first on PYTHONPATH: the subprocesses and kernels below run in other
    folders, where ``import gvcourse`` would otherwise find whichever copy is installed, not the code under test."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_strip_solution_blocks():
    text = ("intro\n\n:::{exercise}\n:label: a\nQ\n:::\n\n::::{solution} a\n:class: dropdown\nA\n:::{note}\nx\n:::\n"
            "::::\n\n```{solution} b\nB\n```\nafter")
    out = student_labs._strip_solution_blocks(text)
    assert "{solution}" not in out and "A" not in out.split() and "B" not in out.split()
    assert "Q" in out and "after" in out and ":::{exercise}" in out
    with pytest.raises(ValueError, match="never closed"):
        student_labs._strip_solution_blocks(":::{solution} a\nunclosed")


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert student_labs.main(["--student", str(dest), "--source", str(ROOT / "book" / "labs")]) == 0
    assert out.getvalue().count("wrote") == 3
    return dest


def _solution_sources(path):
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]


@pytest.mark.parametrize("stem", labs.LABS)
def test_student_version_has_no_solution(student_dir, stem):
    instructor = ROOT / "book" / "labs" / f"{stem}.ipynb"
    nb = nbformat.read(student_dir / f"{stem}.ipynb", as_version=4)
    sources = [c.source for c in nb.cells]
    assert _solution_sources(instructor), "the instructor version should have solution cells"
    for solution in _solution_sources(instructor):
        assert solution not in sources
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        assert "solution" not in tags and "instructor" not in tags
        if cell.cell_type == "markdown":
            assert "{solution}" not in cell.source
        else:
            assert cell.outputs == [] and cell.execution_count is None
        if "scaffold" in tags:
            assert "remove-cell" not in tags and ("..." in cell.source or "None" in cell.source)
    assert sum("scaffold" in c.metadata.get("tags", []) for c in nb.cells) >= 2
    assert sum(":::{exercise}" in c.source for c in nb.cells if c.cell_type == "markdown") >= 2
    assert nb.cells[0].source == nbformat.read(instructor, as_version=4).cells[0].source  # bootstrap kept


@pytest.mark.slow  # executes each student notebook in a kernel
@pytest.mark.parametrize("stem", labs.LABS)
def test_student_version_runs_and_checks_say_not_yet(student_dir, stem, monkeypatch):
    path = student_dir / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("PYTHONPATH", _env_with_checkout()["PYTHONPATH"])  # the kernel imports this checkout
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(student_dir)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{stem}: {errors[0].ename}: {errors[0].evalue}\n{cell.source}"
        if "check" in cell.metadata.get("tags", []):
            text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            assert "not yet" in text and ("No answer yet" in text or "placeholder" in text)


def test_write_refuses_to_overwrite_the_source(tmp_path):
    with pytest.raises(ValueError, match="overwrite"):
        student_labs.write_student_versions(ROOT / "book" / "labs")
    with pytest.raises(FileNotFoundError, match="lab1_backprop"):
        student_labs.lab_sources(tmp_path)
    assert student_labs.lab_sources() == [ROOT / "book" / "labs" / f"{s}.ipynb" for s in labs.LABS]


def test_cli_needs_an_action(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        student_labs.main([])
    assert exit_.value.code != 0 and "--student" in capsys.readouterr().err
    assert student_labs.main(["--student", str(tmp_path / "out"), "--source", str(tmp_path)]) == 2
    assert "does not hold the lab notebooks" in capsys.readouterr().err
    assert student_labs.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(ex in listed for ex in labs.exercise_ids())


@pytest.mark.slow  # two fresh interpreters
def test_the_script_runs_as_a_command_from_anywhere(tmp_path):
    env = _env_with_checkout()
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "student_labs.py"), "--student", str(tmp_path / "s"),
                           "--list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("wrote") == 3 and all(ex in proc.stdout for ex in labs.exercise_ids())
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(f"{s}.ipynb" for s in labs.LABS)
    proc = subprocess.run([sys.executable, "-c", "import gvcourse; print(gvcourse.__file__)"], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert proc.stdout.strip() == str(ROOT / "gvcourse" / "__init__.py")  # the code under test, not an install


def test_student_versions_link_to_the_course_not_to_relative_paths(student_dir):
    base = student_labs.course_url()
    assert base == "https://github.com/vanishing-gradients/course/blob/main/book"
    found = 0
    for stem in labs.LABS:
        nb = nbformat.read(student_dir / f"{stem}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)", cell.source):
                assert target.startswith(("https://", "http://", "#")), (stem, target)
                found += target.startswith(base)
        assert not any("instructor version" in c.source.lower() for c in nb.cells)  # the site's note is dropped
        checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
        assert checks and all("hide-output" not in c.metadata["tags"] for c in checks)
    assert found >= 5  # the chapters and the other labs the labs point to
    assert student_labs.absolute_links("[c](../backprop.ipynb) [l](lab1_backprop.ipynb#part-1) [w](https://x.org)",
                                       "https://site/book") == (
        "[c](https://site/book/backprop.ipynb) [l](https://site/book/labs/lab1_backprop.ipynb#part-1) "
        "[w](https://x.org)")
    with pytest.raises(ValueError, match="leaves the book"):
        student_labs.absolute_links("[x](../../../etc)", "https://site/book")


@pytest.mark.parametrize("stem", labs.LABS)
def test_lab_pages_say_they_are_instructor_versions_and_fold_the_answers(stem):
    nb = nbformat.read(ROOT / "book" / "labs" / f"{stem}.ipynb", as_version=4)
    notes = [c for c in nb.cells if "instructor" in c.metadata.get("tags", [])]
    assert len(notes) == 1 and "Instructor version" in notes[0].source and "try" in notes[0].source
    assert nb.cells.index(notes[0]) <= 2  # at the top of the page, under the title
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            assert "hide-cell" in tags  # input and output folded on the site
        if "check" in tags:
            assert "hide-output" in tags  # the verdict and its numbers folded


def test_a_students_variant_sets_the_variant_after_the_setup_cell(tmp_path):
    written = student_labs.write_student_versions(tmp_path, variant="Alice")
    for path in written:
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "variant" in c.metadata.get("tags", [])]
        if path.stem in labs.VARIANT_LABS:
            assert len(cells) == 1 and cells[0].source.startswith("labs.use_variant('Alice')")
            before = nb.cells[nb.cells.index(cells[0]) - 1]
            assert "setup_notebook(" in before.source and "labs" in before.source  # labs is imported by then
        else:
            assert not cells
    assert labs.variant() == 0  # writing the notebooks does not change this kernel's variant
    assert student_labs.main(["--student", str(tmp_path / "x"), "--variant", " "]) == 2
