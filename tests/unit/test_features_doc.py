"""docs/features.md lists exactly the registry's features, as the generator writes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fraudlens.errors import ConfigError
from fraudlens.features.doc import BEGIN, END, feature_table, main, with_table
from fraudlens.features.registry import ALL_FEATURES, FEATURE_NAMES

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"
_ROW = re.compile(r"^\| `([a-z0-9_]+)` \| (card|terminal) \| (int64|float64) \| (.+) \|$")


def _table_rows(text: str) -> list[tuple[str, ...]]:
    table = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [m.groups() for line in table.splitlines() if (m := _ROW.match(line))]


def test_doc_lists_exactly_the_registry_features_in_order() -> None:
    rows = _table_rows(DOC.read_text())
    assert [r[0] for r in rows] == list(FEATURE_NAMES)
    assert rows == [(s.name, s.entity, s.dtype, s.description) for s in ALL_FEATURES]


def test_doc_lists_the_passthrough_columns_after_the_builtin_features() -> None:
    table = DOC.read_text().split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()
    assert table[-2].startswith("| `x_<name>` | transaction | float64 | passthrough column")
    assert "extras: numeric:" in table[-2]
    assert table[-1].startswith("| `x_<name>__<i>`, `x_<name>__other` | transaction | float64 |")
    assert "extras: categorical:" in table[-1]


def test_committed_doc_is_what_the_generator_writes() -> None:
    text = DOC.read_text()
    assert with_table(text) == text, "run: python -m fraudlens.features.doc docs/features.md"


def test_generator_rewrites_only_the_table(tmp_path: Path) -> None:
    path = tmp_path / "features.md"
    path.write_text(f"# Title\n\n{BEGIN}\n| stale |\n{END}\n\nprose\n")
    assert main([str(path)]) == 0
    assert path.read_text() == f"# Title\n\n{BEGIN}\n{feature_table()}\n{END}\n\nprose\n"
    assert main([]) == 2


def test_generator_refuses_a_doc_without_markers() -> None:
    with pytest.raises(ConfigError, match="markers"):
        with_table("# no table here\n")


def test_descriptions_are_plain_english() -> None:
    """They are the analysts' reason texts: no setting names, code or identifiers."""
    from fraudlens.features.context import CONTEXT_FEATURES

    for spec in (*ALL_FEATURES, *CONTEXT_FEATURES):
        assert not re.search(r"[_`]", spec.description), (spec.name, spec.description)
