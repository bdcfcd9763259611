"""The package's public API: an explicit __all__, every name resolvable, cheap to import."""

from __future__ import annotations

import subprocess
import sys

import autodip


def test_all_is_explicit_and_every_name_resolves():
    assert "restore" in autodip.__all__ and "inpaint" in autodip.__all__
    assert "super_resolve" in autodip.__all__
    for name in autodip.__all__:
        assert getattr(autodip, name) is not None, name
    assert set(autodip.__all__) == {"__version__", *autodip._EXPORTS}


def test_import_is_cheap():
    code = "import sys, autodip; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_restore_is_the_function_whichever_import_came_first():
    # The one-call API lives in `autodip.api`; no module is named like an exported function, so
    # importing a module never rebinds the package's `restore` to something else.
    code = (
        "import numpy as np, autodip\n"
        "import autodip.api\n"
        "from autodip import Denoise\n"
        "y = np.random.default_rng(0).random((3, 16, 16)).astype('float32')\n"
        "r = autodip.restore(y, Denoise(), iters=2, width=4, device='cpu', stop=None)\n"
        "print(type(r).__name__, autodip.inpaint.__name__, autodip.super_resolve.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Result", "inpaint", "super_resolve"]
