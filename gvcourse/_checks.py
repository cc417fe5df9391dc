"""Argument checks that give the course's clear error messages."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real


def one_of(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise a ValueError naming both."""
    allowed = list(allowed)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of: {', '.join(allowed)}; got {type(value).__name__} {value!r}")
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of: {', '.join(allowed)}")
    return value


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def real(name: str, value: object, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``value`` as float if it is a finite real number (optionally > 0 or ≥ 0)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v:g}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0, got {v:g}")
    return v
