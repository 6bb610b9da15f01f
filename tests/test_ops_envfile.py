"""``.env.example`` and the one settings object cannot drift apart (issue 12, item 1).

Every setting of ``bot.config.Settings`` is in the file exactly once, with a comment above it,
and nothing else is; uncommenting every line that has a value and loading the file gives exactly
the defaults, so the values shown are the real ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings

EXAMPLE = PROJECT_ROOT / ".env.example"
LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$")


def _entries() -> list[tuple[str, str, str]]:
    """(name, value, the comment line above) for every setting line."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        m = LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2), lines[i - 1] if i else ""))
    return out


def test_every_setting_once_with_a_description() -> None:
    names = [name for name, _, _ in _entries()]
    aliases = [f.alias for f in Settings.model_fields.values()]
    assert sorted(names) == sorted(aliases), {"missing": set(aliases) - set(names), "unknown": set(names) - set(aliases)}
    assert len(names) == len(set(names))
    for name, _, above in _entries():
        assert above.startswith("# ") and not LINE.match(above) and len(above) > 10, f"{name} has no description"


def test_shown_values_are_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for info in Settings.model_fields.values():  # the developer's own environment must not count
        monkeypatch.delenv(info.alias, raising=False)
    env = tmp_path / ".env"
    env.write_text("".join(f"{name}={value}\n" for name, value, _ in _entries() if value), "utf-8")
    loaded = Settings(_env_file=env)
    defaults = Settings(_env_file=None)
    for field, info in Settings.model_fields.items():
        got, want = getattr(loaded, field), getattr(defaults, field)
        if isinstance(got, Path) and not got.is_absolute():
            got = (PROJECT_ROOT / got).resolve()
        if any(name == info.alias and not value for name, value, _ in _entries()):
            assert want in (None, ""), f"{info.alias}: shown empty but defaults to {want!r}"
            continue
        assert got == want, f"{info.alias}: .env.example shows {got!r}, the default is {want!r}"
