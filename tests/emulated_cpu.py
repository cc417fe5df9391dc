"""What an AVX2-only x86-64 CPU (e.g. an AMD EPYC before Zen 4, an older Intel) selects natively, forced on this one.

PyTorch's AVX2 kernels, MKL's AVX2 code (``MKL_ENABLE_INSTRUCTIONS``) and oneDNN capped at AVX2. The suite runs
every notebook's strict nbval check under these settings (``conftest.py``) while the stored outputs were computed
with the executing machine's own choices, so a number that depends on the CPU fails the suite on any machine.
"""

AVX2_CPU = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
