"""The Inception features without the optional torch-fidelity dependency. Runs in every environment."""

import subprocess
import sys

import numpy as np
import pytest

from sparkgan.metrics import inception


def test_missing_torch_fidelity_names_the_extra(monkeypatch):
    # None in sys.modules makes any import of torch_fidelity raise ImportError.
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)
    inception._load_extractor.cache_clear()
    with pytest.raises(ImportError, match=r"pip install 'sparkgan\[inception\]'"):
        inception.inception_features(np.zeros((1, 3, 8, 8), dtype=np.float32), weights_path="unused.pth")
    inception._load_extractor.cache_clear()


def test_metrics_package_does_not_import_inception_module():
    code = (
        "import sys, sparkgan.metrics; "
        "print('sparkgan.metrics.inception' in sys.modules, 'torch_fidelity' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
