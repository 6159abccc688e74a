"""The command line: the seed's usage, subcommands and options."""
from __future__ import annotations

import pytest

from pystack.cli import build_parser, main


def test_usage_matches_the_seed():
    parser = build_parser()
    assert parser.format_usage().split() == \
        "usage: pystack [-h] [-v] [--no-color] {remote,core} ...".split()
    remote = parser.parse_args(["remote", "--no-block", "--locals", "12"])
    assert remote.pid == 12 and remote.no_block and remote.locals
    core = parser.parse_args(["core", "c.core", "/usr/bin/python3",
                              "--lib-search-root", "/srv/root"])
    assert (core.core, core.executable, core.lib_search_root) == (
        "c.core", "/usr/bin/python3", "/srv/root")


def test_verbose_before_or_after_the_subcommand():
    parser = build_parser()

    def verbosity(argv):
        args = parser.parse_args(argv)
        return args.verbose + getattr(args, "verbose_sub", 0)
    assert verbosity(["-v", "remote", "1"]) == 1
    assert verbosity(["remote", "-v", "1"]) == 1
    assert verbosity(["-v", "remote", "-v", "1"]) == 2
    assert parser.parse_args(["--no-color", "remote", "1"]).no_color
    assert parser.parse_args(["remote", "--no-color", "1"]).no_color


def test_lib_search_options_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["core", "c", "--lib-search-path", "a",
                                   "--lib-search-root", "b"])
    assert exc.value.code == 2


@pytest.mark.parametrize("pid", ["0", "-3", "x"])
def test_invalid_pids(pid, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["remote", pid])
    assert exc.value.code == 2
    assert "invalid pid" in capsys.readouterr().err
