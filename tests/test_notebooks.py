"""The notebooks in notebooks/ run top to bottom on their tiny default settings (so they cannot rot),
and are committed without outputs.

Each notebook ends in a cell that asserts what it demonstrates (exact round trips, an exact layout
inverse, a falling loss, recovered scaling exponents); a failing assertion fails the test.
The kernel is this interpreter (a kernel spec written to a temporary directory), whatever kernel
specs the machine has installed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_tokens.ipynb", "02_extend.ipynb", "03_scaling_fit.ipynb"]
TIMEOUT_S = 120  # per notebook


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A ``python3`` kernel spec that launches this very interpreter."""
    d = tmp_path_factory.mktemp("kernels")
    spec = d / "python3"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (audiolm tests)",
        "language": "python",
    }))
    return d


def run_notebook(path: Path, kernel_dir: Path, out_dir: Path, env: dict[str, str] | None = None):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    # the notebooks' tiny defaults, not whatever AUDIOLM_* settings the calling shell has
    kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOLM_")}
    kernel_env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "AUDIOLM_NB_OUT": str(out_dir),
                       "PYTHONWARNINGS": "ignore", **(env or {})})
    client = nbclient.NotebookClient(nb, km=km, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env)
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, kernel_specs, tmp_path):
    started = time.monotonic()
    nb = run_notebook(NOTEBOOKS / name, kernel_specs, tmp_path)
    took = time.monotonic() - started
    assert took < TIMEOUT_S, f"{name} took {took:.0f} s"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.get("outputs", [])), "the notebook draws figures"
    # the last cell asserts the notebook's point and prints a one-line verdict
    last = "".join(o.get("text", "") for o in code[-1].get("outputs", []) if o.get("output_type") == "stream")
    assert last.strip(), "the final cell printed its verdict"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_committed_clean(name):
    """Committed without outputs (small diffs, small repository) and with a parameters cell first."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert c.get("outputs", []) == [] and c.get("execution_count") is None, f"{name}: clear the outputs"
    assert "parameters" in code[0].metadata.get("tags", []), f"{name}: first code cell is the parameters cell"
    assert "os.environ" in code[0].source, f"{name}: parameters read environment variables"
    assert nb.cells[0].cell_type == "markdown", f"{name}: starts by saying what it shows and why"
