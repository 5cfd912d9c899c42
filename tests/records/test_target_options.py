"""A target's options from the scenario's table: a key without a name is refused naming the table it is in."""

import pytest

from ingestbench.records.config import ConfigError, target_options


@pytest.mark.parametrize("table", ["target", "target.writer", "target.reader"])
@pytest.mark.parametrize("key", ["", " "])
def test_an_option_without_a_name_is_refused_naming_its_table(table: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{table.replace('.', '[.]')}: an option needs a name"):
        target_options(None, environ={}, scenario={key: False}, table=table)


def test_named_options_keep_their_precedence() -> None:
    got = target_options(["a=flag"], environ={"INGESTBENCH_TARGET_B": "env"}, scenario={"a": "x", "b": "y", "c": 1})
    assert got == {"a": "flag", "b": "env", "c": "1"}
