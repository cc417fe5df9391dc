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
