"""Train two small deep nets for a few SGD steps and print a hash of their weights (run by test_reproducibility).

    python tests/reproducibility_probe.py policy   # after gvcourse.use_reproducible_numerics()
    python tests/reproducibility_probe.py native   # whatever this CPU and environment choose

Fifteen steps of a 12-layer tanh MLP and of a small BatchNorm CNN are enough for float32 rounding differences
between kernels to change the last bits of the weights, so equal hashes mean bit-identical training.
"""

import hashlib
import sys

import torch
from torch import nn

if sys.argv[1] == "policy":
    import gvcourse

    gvcourse.use_reproducible_numerics()
    gvcourse.seed_all(0)
else:
    torch.manual_seed(0)

digest = hashlib.sha256()
mlp = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(64, 64), nn.Tanh())], nn.Linear(64, 4))
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                    nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 4))
for model, x in ((mlp, torch.randn(128, 64)), (cnn, torch.randn(64, 1, 8, 8))):
    y = torch.randint(0, 4, (x.shape[0],))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(15):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
print(digest.hexdigest()[:16])
