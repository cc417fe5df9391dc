"""The gradient through time of every recurrent module, ‖∂L/∂h_t‖ for each step t.

Bengio, Simard & Frasconi (1994); Hochreiter & Schmidhuber (1997). ``*Cell`` modules are called once per step,
so a forward hook sees each h_t. A fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` runs all steps in one kernel, so
:class:`TimeRecorder` replaces its ``forward`` (an instance attribute, removed by :meth:`TimeRecorder.detach`) with
a loop over one-step calls of the same module: same weights, same outputs, and every h_t a tensor a hook can see.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from ..tensor_norms import sq_norm
from .report import TimeReport

__all__ = ["RNN_MODULES", "RNN_CELLS", "TimeRecorder"]

RNN_MODULES = (nn.RNN, nn.LSTM, nn.GRU)
RNN_CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)


class TimeRecorder:
    """Collects ‖∂L/∂h_t‖ per step for every recurrent module (fused ones are unrolled during the pass)."""

    def __init__(self, model: nn.Module):
        self.modules = OrderedDict((n, m) for n, m in model.named_modules() if isinstance(m, RNN_MODULES + RNN_CELLS))
        self.sq: dict[str, dict[int, float]] = {n: {} for n in self.modules}
        self.steps: dict[str, int] = {n: 0 for n in self.modules}
        self.skipped: list[str] = []
        self._handles: list = []
        self._patched: list[nn.Module] = []

    def _watch(self, name: str, t: int, h: torch.Tensor) -> None:
        if not h.requires_grad:
            return

        def hook(grad: torch.Tensor) -> None:
            self.sq[name][t] = self.sq[name].get(t, 0.0) + sq_norm(grad)
        h.register_hook(hook)

    def attach(self) -> None:
        for name, module in self.modules.items():
            if isinstance(module, RNN_CELLS):
                self._handles.append(module.register_forward_hook(self._cell_hook(name)))
            elif module.bidirectional:
                self.skipped.append(name)
            else:
                module.forward = self._unrolled(name, module)  # instance attribute: removed in detach()
                self._patched.append(module)

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for module in self._patched:
            del module.forward
        self._patched.clear()

    def _cell_hook(self, name: str):
        def hook(module, args, output) -> None:
            for h in output if isinstance(output, tuple) else (output,):  # LSTMCell: the state is (h, c)
                self._watch(name, self.steps[name], h)
            self.steps[name] += 1
        return hook

    def _unrolled(self, name: str, module: nn.Module):
        base = type(module).forward

        def forward(input, hx=None):
            if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
                return base(module, input, hx)  # PackedSequence etc.: no time profile
            batched = input.dim() == 3
            time_dim = 1 if (batched and module.batch_first) else 0
            state = hx
            outs = []
            for t in range(input.shape[time_dim]):
                x_t = input.narrow(time_dim, t, 1)
                _, state = base(module, x_t, state)
                for part in state if isinstance(state, tuple) else (state,):  # LSTM: the state is (h, c)
                    self._watch(name, t, part)
                h = state[0] if isinstance(state, tuple) else state  # (layers, B, H) or (layers, H)
                top = h[-1:]  # the last layer's state is the step's output
                outs.append(top.transpose(0, 1) if time_dim == 1 else top)
            self.steps[name] = input.shape[time_dim]
            return torch.cat(outs, dim=time_dim), state
        return forward

    def reports(self) -> list[TimeReport]:
        out = []
        for name in self.modules:
            n = self.steps[name]
            if n >= 2:
                out.append(TimeReport(name, tuple(math.sqrt(self.sq[name].get(t, 0.0)) for t in range(n))))
        return out
