"""gvcourse.explore: static explorers work without a kernel (client-side links), live ones re-run."""

import ipywidgets as w
import matplotlib.pyplot as plt
import pytest

from gvcourse import explore, plots


def _draw(activation="relu", depth=2):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot(range(depth), label=activation)
    return plots.set_alt_text(fig, f"line for {activation} at depth {depth}")


def _stacks(widget):
    found = []

    def walk(x):
        if isinstance(x, w.Stack):
            found.append(x)
        for child in getattr(x, "children", ()):
            walk(child)

    walk(widget)
    return found


def test_static_explorer_grid_links_and_alt_text():
    ex = explore.static_explorer(_draw, {"activation": ["sigmoid", "relu"], "depth": [2, 4, 8]}, title="demo",
                                 initial={"depth": 4})
    stacks = _stacks(ex)
    assert len(stacks) == 1 + 2  # one outer stack (activation) and one inner per activation value
    frames = [c for s in stacks[1:] for c in s.children]
    assert len(frames) == 6 and all(isinstance(f, w.HTML) for f in frames)
    assert 'alt="line for sigmoid at depth 2"' in frames[0].value
    assert "depth = 8" in frames[2].value
    links = ex.links
    assert len(links) == 3 and all(link.source[1] == "index" and link.target[1] == "selected_index" for link in links)
    assert all(s.selected_index == 1 for s in stacks[1:])  # initial depth 4
    assert repr(ex) == "StaticExplorer(demo: activation (2) × depth (3); 6 precomputed frames)"
    sliders = [c for c in ex.children[1].children]
    assert isinstance(sliders[0], w.Dropdown) and isinstance(sliders[1], w.SelectionSlider)


def test_explorer_outputs_carry_the_starting_frame_for_readers_without_widgets():
    import base64

    ex = explore.static_explorer(_draw, {"activation": ["sigmoid", "relu"], "depth": [2, 4, 8]},
                                 initial={"activation": "relu", "depth": 4})
    data, metadata = ex._repr_mimebundle_()
    assert data["text/plain"] == repr(ex) and "application/vnd.jupyter.widget-view+json" in data  # widgets first
    shown = [c.value for s in _stacks(ex)[1:] for c in s.children][1 * 3 + 1]  # relu, depth 4
    assert base64.b64encode(explore.figure_to_png(_draw("relu", 4))).decode() == data["image/png"]
    assert data["image/png"] in shown and metadata == {"image/png": {"alt": "line for relu at depth 4"}}

    live = explore.live_explorer(_draw, {"depth": [2, 3]})
    live.children[0].children[0].index = 1  # the reader moves the control: the fallback follows
    data, metadata = live._repr_mimebundle_()
    assert metadata["image/png"]["alt"] == "line for relu at depth 3" and data["image/png"] in live.children[1].value


def test_frames_are_deterministic_png():
    a = explore.figure_to_png(_draw())
    b = explore.figure_to_png(_draw())
    assert a == b and a[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_explorer_reruns():
    calls = []

    def draw(depth):
        calls.append(depth)
        return _draw(depth=depth)

    ex = explore.live_explorer(draw, {"depth": [2, 3]})
    slider = ex.children[0].children[0]
    slider.index = 1
    assert calls[-1] == 3
    assert repr(ex).startswith("LiveExplorer(")
    assert "<img" in ex.children[1].value and 'alt="' in ex.children[1].value  # the frame carries its alt text


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: explore.static_explorer("f", {"a": [1]}), TypeError, "draw"),
        (lambda: explore.static_explorer(_draw, {}), ValueError, "non-empty"),
        (lambda: explore.static_explorer(_draw, {"depth": []}), ValueError, "depth"),
        (lambda: explore.static_explorer(_draw, {"depth": "abc"}), ValueError, "depth"),
        (lambda: explore.static_explorer(_draw, {"depth": [1]}, initial={"width": 3}), ValueError, "width"),
        (lambda: explore.static_explorer(lambda depth: 3, {"depth": [1]}), TypeError, "not a matplotlib Figure"),
        (lambda: explore.figure_to_png("x"), TypeError, "Figure"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()


def _draw_line(a, b):
    fig, ax = plt.subplots()
    ax.plot([0, a], [0, 1 if b == "x" else 2])
    return plots.set_alt_text(fig, f"A line from the origin to ({a}, {b}), drawn for the explorer test.")


def test_static_explorer_falls_back_to_live_without_stack(monkeypatch):
    """ipywidgets 7 (Colab) has no Stack: a static explorer in a live kernel becomes a live one."""
    monkeypatch.delattr(w, "Stack")
    explorer = explore.static_explorer(_draw_line, {"a": [1, 2, 3], "b": ["x", "y"]}, title="t", initial={"a": 2})
    assert isinstance(explorer, explore.LiveExplorer)
    slider = explorer.children[1].children[0]
    assert slider.index == 1  # the initial value is honoured
    slider.index = 2
    assert 'alt="A line from the origin to (3, x)' in explorer.children[2].value


FALLBACK_SCRIPT = """
import matplotlib; matplotlib.use("Agg")
import ipywidgets as w, matplotlib.pyplot as plt
from gvcourse import explore, plots
def draw(a, b):
    fig, ax = plt.subplots(); ax.plot([0, a], [0, 1])
    return plots.set_alt_text(fig, "A line for the ipywidgets 7 compatibility test of the explorers.")
live = explore.live_explorer(draw, {"a": [1, 2, 3], "b": ["x", "y"]}, title="t")
static = explore.static_explorer(draw, {"a": [1, 2, 3], "b": ["x", "y"]}, title="t")
live.children[1].children[0].index = 2
print(w.__version__, type(static).__name__, live.children[2].value.count("<img"))
"""


@pytest.mark.slow
def test_explorers_run_on_ipywidgets_7(tmp_path):
    """Colab long shipped ipywidgets 7.7: gvcourse must work there without upgrading it (a venv with 7.7.1)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "ipywidgets==7.7.1"], capture_output=True, text=True)
    if install.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"could not install ipywidgets 7.7.1: {install.stderr[-1000:]}")
        pytest.skip("PyPI is not reachable")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([str(python), "-c", FALLBACK_SCRIPT], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=str(root)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["7.7.1", "LiveExplorer", "1"]
