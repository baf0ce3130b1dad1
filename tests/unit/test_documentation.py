"""The documentation names what the code does: every setting, and every variable the
deployment guide relies on."""

from __future__ import annotations

import re
from pathlib import Path

from core_banking.config import Settings, env_var_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        env_var_name(field)
        for field in Settings.model_fields
        if f"`{env_var_name(field)}`" not in readme
    ]
    assert missing == []


def test_every_variable_the_deployment_guide_names_is_a_setting():
    guide = (ROOT / "docs" / "deployment-guide.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bNEXUM_[A-Z0-9_]+", guide))
    settings = {env_var_name(field) for field in Settings.model_fields}
    assert named, "the guide should name NEXUM_* variables"
    assert named - settings == set()
