"""Serving apart from training: the service and the model package never load the training code."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_service_and_the_model_package_do_not_import_training() -> None:
    for module in ("monitor.service", "monitor.model", "monitor.model.scorer"):
        training = {m for m in loaded_after(module) if m.startswith("monitor.model.training")}
        assert not training, f"{module} imports {sorted(training)}"
