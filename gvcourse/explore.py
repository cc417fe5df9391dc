"""Explorers: move a control, see gradients change.

Two kinds, for two kinds of reader:

- :func:`static_explorer` — for the **website**, which has no kernel. Every frame is computed when the
  notebook is executed; the controls are linked to the frames *in the browser* (``jslink`` from each
  control's ``index`` to a ``Stack``'s ``selected_index``), so the built page responds with no kernel and
  no network. One control per axis of a grid; several controls nest one ``Stack`` per axis.
- :func:`live_explorer` — for **Binder, Colab or a laptop**: ipywidgets controls re-run a small
  computation and redraw it with the inline matplotlib backend (no ipympl, which breaks on Colab).

Both work with ipywidgets 7.7 (which Colab long shipped) and 8.x: installing gvcourse does not upgrade a kernel's
ipywidgets. ipywidgets 7 has no ``Stack``; there :func:`static_explorer`, which only runs in a live kernel anyway
(the website is built with ipywidgets 8), returns the equivalent live explorer.

Both return a container whose text repr is one short line, so strict nbval compares something stable
rather than the widgets' contents (PNG bytes). Their output also carries the frame on show as a PNG with its alt
text: a reader that cannot draw widgets from a notebook's saved state (GitHub, nbviewer, an editor's preview) shows
that picture instead of the one-line repr; Jupyter and the website show the widgets. Controls are native,
keyboard-operable widgets: a slider for ordered values (arrow keys), a dropdown for categories; each frame is an
``<img>`` with alt text.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from numbers import Number

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .plots import get_alt_text

__all__ = ["static_explorer", "live_explorer", "figure_to_png", "StaticExplorer", "LiveExplorer"]


def figure_to_png(fig: Figure, dpi: int = 72) -> bytes:
    """The figure as PNG bytes (deterministic: no timestamp metadata), then closed."""
    if not isinstance(fig, Figure):
        raise TypeError(f"expected a matplotlib Figure, got {type(fig).__name__}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _check_controls(controls: Mapping[str, Sequence]) -> dict[str, list]:
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls must be a non-empty mapping {name: list of values}")
    checked = {}
    for name, values in controls.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"control names must be non-empty strings, got {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"control {name!r} needs a non-empty list of values, got {values!r}")
        checked[name] = list(values)
    return checked


def _start_index(values: list, value=None) -> int:
    """Where a control over ``values`` starts: at ``value`` if it is one of them, else at the first."""
    return values.index(value) if value in values else 0


def _control(name: str, values: list, value=None):
    """A slider for numbers (ordered), a dropdown for anything else; both keyboard-operable."""
    labels = [str(v) for v in values]
    index = _start_index(values, value)
    if all(isinstance(v, Number) for v in values) and len(values) > 1:
        control = w.SelectionSlider(options=list(zip(labels, range(len(values)))), index=index, description=name,
                                    continuous_update=True, style={"description_width": "initial"},
                                    layout=w.Layout(width="420px"))
    else:
        control = w.Dropdown(options=list(zip(labels, range(len(values)))), index=index, description=name,
                             style={"description_width": "initial"})
    return control


class _Explorer(w.VBox):
    """An explorer's container: a one-line repr, and the frame on show as the output's PNG fallback."""

    summary = "Explorer"
    preview: tuple[bytes, str] | None = None  # (PNG, alt text) of the frame the controls start on

    def __repr__(self) -> str:
        return self.summary

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if self.preview is None or data is None:
            return data
        png, alt = self.preview
        return {**data, "image/png": base64.b64encode(png).decode("ascii")}, {"image/png": {"alt": alt}}


class StaticExplorer(_Explorer):
    """A kernel-free explorer: controls linked client-side to precomputed frames. Its repr is one line."""

    summary = "StaticExplorer"


class LiveExplorer(_Explorer):
    """An explorer that re-runs a function in the kernel when a control moves. Its repr is one line."""

    summary = "LiveExplorer"


def _frame_html(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure style="margin:0"><img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}" '
            f'style="max-width:100%;height:auto"/><figcaption style="font-size:0.85em">{html.escape(caption)}'
            "</figcaption></figure>")


def static_explorer(draw: Callable[..., Figure], controls: Mapping[str, Sequence], title: str = "",
                    initial: Mapping[str, object] | None = None, dpi: int = 72):
    """Precompute ``draw(**values)`` for every combination of ``controls`` and link the controls to the frames.

    ``draw`` returns a matplotlib Figure (its alt text, set by the gvcourse.plots helpers or
    :func:`gvcourse.plots.set_alt_text`, becomes the frame's ``alt``). ``controls`` maps each keyword of
    ``draw`` to the values to offer, e.g. ``{"activation": ["sigmoid", "relu"], "depth": [5, 10, 20]}``.
    The product of the lengths is the number of frames: keep it small (each frame is a PNG in the page).
    """
    if not callable(draw):
        raise TypeError(f"draw must be a function returning a matplotlib Figure, got {type(draw).__name__}")
    controls = _check_controls(controls)
    if not hasattr(w, "Stack"):  # ipywidgets 7 (e.g. Colab): no Stack to link frames to, but a live kernel
        return live_explorer(draw, controls, title, initial=initial)
    initial = dict(initial or {})
    unknown = set(initial) - set(controls)
    if unknown:
        raise ValueError(f"initial names unknown controls {sorted(unknown)}; controls are: {', '.join(controls)}")
    names = list(controls)

    start = {name: controls[name][_start_index(controls[name], initial.get(name))] for name in names}
    preview: list[tuple[bytes, str]] = []

    def build(level: int, fixed: dict):
        name = names[level]
        children = []
        for value in controls[name]:
            here = {**fixed, name: value}
            if level + 1 < len(names):
                children.append(build(level + 1, here))
                continue
            fig = draw(**here)
            if not isinstance(fig, Figure):
                raise TypeError(f"draw(**{here}) returned {type(fig).__name__}, not a matplotlib Figure")
            alt = get_alt_text(fig) or f"Figure for {here}"
            caption = ", ".join(f"{k} = {v}" for k, v in here.items())
            png = figure_to_png(fig, dpi)
            if here == start:
                preview.append((png, alt))
            children.append(w.HTML(_frame_html(png, alt, caption)))
        stacks.setdefault(level, []).append(w.Stack(children=children, selected_index=0))
        return stacks[level][-1]

    stacks: dict[int, list] = {}
    root = build(0, {})
    sliders = [_control(name, controls[name], initial.get(name)) for name in names]
    links = []
    for level, slider in enumerate(sliders):
        for stack in stacks[level]:
            stack.selected_index = slider.index
            links.append(w.jslink((slider, "index"), (stack, "selected_index")))
    heading = [w.HTML(f"<strong>{html.escape(title)}</strong>")] if title else []
    explorer = StaticExplorer(children=[*heading, w.HBox(sliders, layout=w.Layout(flex_flow="row wrap")), root])
    explorer.add_class("gv-static-explorer")  # the browser tests find explorers by this class
    explorer.links = links  # the client-side links (kept so they are not garbage-collected with no owner)
    explorer.preview = preview[0]
    n_frames = 1
    for values in controls.values():
        n_frames *= len(values)
    axes = " × ".join(f"{k} ({len(v)})" for k, v in controls.items())
    explorer.summary = f"StaticExplorer({title or 'explorer'}: {axes}; {n_frames} precomputed frames)"
    return explorer


def live_explorer(draw: Callable[..., Figure], controls: Mapping[str, Sequence], title: str = "",
                  initial: Mapping[str, object] | None = None):
    """Controls that re-run ``draw(**values)`` in the kernel and show the new figure (Binder, Colab, laptop).

    On the static website it shows only its first frame: use :func:`static_explorer` there.
    """
    if not callable(draw):
        raise TypeError(f"draw must be a function returning a matplotlib Figure, got {type(draw).__name__}")
    controls = _check_controls(controls)
    initial = dict(initial or {})
    unknown = set(initial) - set(controls)
    if unknown:
        raise ValueError(f"initial names unknown controls {sorted(unknown)}; controls are: {', '.join(controls)}")
    sliders = {name: _control(name, values, initial.get(name)) for name, values in controls.items()}
    output = w.HTML()
    explorer = LiveExplorer()

    def redraw(change=None) -> None:
        values = {name: controls[name][slider.index] for name, slider in sliders.items()}
        fig = draw(**values)
        if not isinstance(fig, Figure):
            raise TypeError(f"draw(**{values}) returned {type(fig).__name__}, not a matplotlib Figure")
        # An <img> with the figure's alt text in an HTML widget (a widget's image output would lose the alt
        # text on the website); figure_to_png closes the figure, so the inline backend does not also show it.
        alt = get_alt_text(fig) or f"Figure for {values}"
        caption = ", ".join(f"{k} = {v}" for k, v in values.items())
        png = figure_to_png(fig)
        explorer.preview = (png, alt)
        output.value = _frame_html(png, alt, caption)

    for slider in sliders.values():
        slider.observe(redraw, names="index")
    redraw()
    heading = [w.HTML(f"<strong>{html.escape(title)}</strong>")] if title else []
    explorer.children = [*heading, w.HBox(list(sliders.values())), output]
    axes = " × ".join(f"{k} ({len(v)})" for k, v in controls.items())
    explorer.summary = f"LiveExplorer({title or 'explorer'}: {axes}; runs in a live kernel)"
    return explorer

