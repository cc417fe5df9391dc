"""Log-axis tick labels in plain text: ``10⁻⁵`` written with Unicode superscripts instead of mathtext.

Matplotlib labels a log axis ``$\\mathdefault{10^{-5}}$`` and parses every such label with its mathtext parser,
again for every figure it draws (the parse cache belongs to one renderer). For the course's small figures, most
of which have a log axis for gradient norms, that parsing was about 40 % of the time to draw a figure. The
same label in Unicode, ``10⁻⁵``, is ordinary text: it is laid out like any other, in the same font.

:func:`use_plain_log_ticks` registers :class:`PlainLogScale` under the name ``"log"``, so ``ax.semilogy``,
``ax.set_yscale("log")`` and ``loglog`` all use it (``gvcourse.plots.use_course_style`` calls it).
"""

from __future__ import annotations

import re

from matplotlib import scale, ticker

__all__ = ["PlainLogFormatter", "PlainLogScale", "use_plain_log_ticks", "plain_text"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATHDEFAULT = re.compile(r"^\$\\mathdefault\{(.*)\}\$$")
_POWER = re.compile(r"^(-?)(?:([0-9.]+)\\times)?([0-9.]+)\^\{(-?[0-9]+)\}$")


def plain_text(label: str) -> str:
    """``$\\mathdefault{2\\times10^{-5}}$`` → ``2×10⁻⁵``; a label of any other form is returned unchanged."""
    outer = _MATHDEFAULT.match(label)
    if outer is None:
        return label
    inner = outer.group(1)
    power = _POWER.match(inner)
    if power is None:
        return inner if re.fullmatch(r"-?[0-9.e+]+", inner) else label
    sign, coefficient, base, exponent = power.groups()
    return f"{sign}{coefficient + '×' if coefficient else ''}{base}{exponent.translate(_SUPERSCRIPT)}"


class PlainLogFormatter(ticker.LogFormatterSciNotation):
    """Matplotlib's log-axis labels (same ticks labelled, same values), written as plain text."""

    def __call__(self, x, pos=None) -> str:
        return plain_text(super().__call__(x, pos))


class PlainLogScale(scale.LogScale):
    """Matplotlib's log scale with :class:`PlainLogFormatter` for its major and minor tick labels."""

    def __init__(self, *, base: float = 10, subs=None, nonpositive: str = "clip") -> None:
        # no ``axis`` argument: matplotlib 3.11 deprecates it for registered scales (and never used it for log)
        super().__init__(None, base=base, subs=subs, nonpositive=nonpositive)

    def set_default_locators_and_formatters(self, axis) -> None:
        super().set_default_locators_and_formatters(axis)
        axis.set_major_formatter(PlainLogFormatter(self.base))
        axis.set_minor_formatter(PlainLogFormatter(self.base, labelOnlyBase=(self.subs is not None)))


def use_plain_log_ticks() -> None:
    """Make every log axis of this process label its ticks with :class:`PlainLogFormatter`."""
    scale.register_scale(PlainLogScale)
