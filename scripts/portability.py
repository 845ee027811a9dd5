"""A second numerical configuration of this machine, for checking that the chapters' outputs travel.

    python scripts/portability.py env      # VAR=value ... for the Makefile (what it chose goes to stderr)
    python scripts/portability.py report   # what this machine runs by default, and the second configuration

The committed notebooks must give the same outputs on another reader's machine, whose processor, BLAS kernel
and thread count differ from the one that executed them. `make test` runs nbval a second time with:

- another OpenBLAS kernel (``OPENBLAS_CORETYPE``): one that this processor can run and that differs from the
  kernel OpenBLAS picks here by default (threadpoolctl says which that is, ``OPENBLAS_CORETYPE`` included
  where the machine already sets it);
- numpy's own SIMD dispatch turned off above its baseline (``NPY_DISABLE_CPU_FEATURES``: AVX2, AVX-512 on x86);
- two BLAS threads instead of one;
- the compiled training engine built for a generic processor of this architecture (``NUMBA_CPU_NAME=generic``:
  no AVX, no FMA) instead of this one, numba's threads at two.

See book/numbers-that-travel.md for what a chapter may print.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

# Kernels to try, in order, with the CPU flags each needs (x86-64); the first that differs from the default,
# that this processor supports and that OpenBLAS accepts, is chosen.
X86_KERNELS = [("Sandybridge", {"avx"}), ("Haswell", {"avx2", "fma"}), ("Nehalem", {"sse4_2"}), ("Prescott", set())]
ARM_KERNELS = [("ARMV8", set()), ("NEOVERSEN1", set()), ("CORTEXA57", set())]
PROBE = """
import json, numpy, threadpoolctl
try:  # numpy 2
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
except ImportError:  # numpy 1.26
    from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"blas": blas[0]["internal_api"] if blas else None,
                  "kernel": blas[0].get("architecture") if blas else None,
                  "dispatch": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]}))
"""


def probe(extra: dict[str, str] | None = None) -> dict:
    """numpy's BLAS, its kernel and the SIMD dispatch targets in use, in a fresh interpreter with `extra` set."""
    env = {**os.environ, **(extra or {})}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def other_kernel(default: str | None) -> str | None:
    """An OpenBLAS kernel other than `default` that this processor runs, or None."""
    machine = platform.machine().lower()
    candidates = (
        X86_KERNELS
        if machine in ("x86_64", "amd64")
        else ARM_KERNELS
        if "arm" in machine or "aarch64" in machine
        else []
    )
    flags = cpu_flags()
    for name, needs in candidates:
        if not needs <= flags:
            continue
        chosen = probe({"OPENBLAS_CORETYPE": name})["kernel"]
        if chosen and default and chosen.lower() != default.lower():
            return name
    return None


def second_configuration() -> tuple[dict[str, str], dict]:
    """The environment of the second configuration, and what this machine runs by default."""
    default = probe()
    env = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    env |= {"NUMBA_CPU_NAME": "generic", "NUMBA_NUM_THREADS": "2"}
    if default["dispatch"]:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(default["dispatch"])
    if default["blas"] == "openblas":
        kernel = other_kernel(default["kernel"])
        if kernel:
            env["OPENBLAS_CORETYPE"] = kernel
    return env, default


def main(argv: list[str]) -> int:
    if argv not in (["env"], ["report"]):
        print(__doc__, file=sys.stderr)
        return 2
    env, default = second_configuration()
    summary = (
        f"portability check: numpy's BLAS {default['blas']} runs kernel {default['kernel']} here "
        f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}), SIMD dispatch "
        f"{' '.join(default['dispatch']) or 'none'}; second configuration: "
        + " ".join(f"{k}={v!r}" for k, v in env.items())
    )
    if default["blas"] == "openblas" and "OPENBLAS_CORETYPE" not in env:
        summary += " (warning: no other OpenBLAS kernel could be chosen on this processor)"
    print(summary, file=sys.stderr)
    if argv == ["env"]:
        print(" ".join(f"{k}='{v}'" for k, v in env.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
