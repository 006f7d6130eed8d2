"""The CUDA 12 runtime lookup that lets the PyPI xformers wheel load under a CUDA-13 torch.

No GPU here: the lookup and the global load are checked with a real shared library standing in
for ``libcudart.so.12`` under the layout of the ``nvidia-cuda-runtime-cu12`` wheel."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audiolm.lm.cuda_libs import cudart12_candidates, system_has_cudart12

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF shared libraries (Linux)")


def a_real_shared_library() -> Path:
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if "/libm.so" in path or "/libz.so" in path:
            return Path(path)
    pytest.skip("no libm/libz mapped in this process")


def fake_wheel_site(root: Path) -> Path:
    lib = root / "site" / "nvidia" / "cuda_runtime" / "lib"
    lib.mkdir(parents=True)
    shutil.copy(a_real_shared_library(), lib / "libcudart.so.12")
    return root / "site"


def preload_in_subprocess(paths: list[str], env_extra: dict | None = None) -> dict:
    code = ("import json, sys; from audiolm.lm.cuda_libs import preload_cudart12; "
            f"got = preload_cudart12({paths!r}); "
            "maps = open('/proc/self/maps').read(); "
            "print(json.dumps({'got': got, 'mapped': bool(got) and got != 'system' and got in maps}))")
    env = {k: v for k, v in os.environ.items() if k != "AUDIOLM_CUDART"}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(system_has_cudart12(), reason="this machine's loader already finds libcudart.so.12")
def test_runtime_of_the_pypi_wheel_is_found_and_loaded_globally(tmp_path):
    site = fake_wheel_site(tmp_path)
    assert cudart12_candidates([str(site), str(tmp_path / "nothing")]) == [site / "nvidia/cuda_runtime/lib/libcudart.so.12"]
    res = preload_in_subprocess([str(site)])
    assert res == {"got": str(site / "nvidia/cuda_runtime/lib/libcudart.so.12"), "mapped": True}
    assert preload_in_subprocess([str(tmp_path / "nothing")])["got"] is None  # none: xformers' probe then warns


def test_explicit_path_and_a_damaged_file(tmp_path):
    site = fake_wheel_site(tmp_path)
    lib = site / "nvidia/cuda_runtime/lib/libcudart.so.12"
    res = preload_in_subprocess([], {"AUDIOLM_CUDART": str(lib)})
    assert res == {"got": str(lib), "mapped": True}
    bad = tmp_path / "bad" / "nvidia" / "cuda_runtime" / "lib"
    bad.mkdir(parents=True)
    (bad / "libcudart.so.12").write_bytes(b"not an ELF file")
    if not system_has_cudart12():
        assert preload_in_subprocess([str(tmp_path / "bad")])["got"] is None  # skipped, not a crash
