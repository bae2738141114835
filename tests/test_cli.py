"""The openmem command's built-in subcommands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from openmem.cli import main


def test_add_prints_the_stored_record_as_json() -> None:
    result = CliRunner().invoke(main, ["add", "hello", "-u", "u1", "-p", "inmemory", "-s", "a/b"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["content"] == "hello"
    assert record["scope"] == "a/b"


def test_bad_input_is_a_clean_error_not_a_traceback() -> None:
    result = CliRunner().invoke(main, ["add", "x", "-u", "u1", "-p", "inmemory", "-s", "a//b"])
    assert result.exit_code == 1
    assert "invalid_request" in result.output
    assert "Traceback" not in result.output


def test_unknown_option_names_the_valid_ones() -> None:
    result = CliRunner().invoke(main, ["search", "q", "-u", "u", "-p", "inmemory", "-o", "x=1"])
    assert result.exit_code == 1
    assert "valid options" in result.output


def test_providers_lists_the_builtin_ones() -> None:
    result = CliRunner().invoke(main, ["providers"])
    assert "inmemory" in result.output
    assert "passthrough" in result.output
