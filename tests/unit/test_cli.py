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


# parse_plain reads full spellings without argparse; argparse stays the reference.
import contextlib  # noqa: E402
import io  # noqa: E402

from hypothesis import given, settings, strategies as st  # noqa: E402

from pystack.cli import parse_plain  # noqa: E402

_TOKENS = ["-v", "-vv", "-vvv", "-vvvv", "--verbose", "--verb", "--no-color", "remote", "core",
           "12", "0", "-3", "x", " 7", "+7", "1_0", "\u0661", "c.core", "/usr/bin/python3", "",
           "-", "--", "-h", "--help", "--native", "--native-all", "--native-last", "--nat",
           "--native=1", "--locals", "--exhaustive", "--no-block", "--locals-max-length",
           "--locals-max-length=5", "--locals-max-length=", "5", "--lib-search-path",
           "--lib-search-root", "/a", "--lib-search-path=/b", "--lib-search-root=/r", "--bogus",
           "-x", "a b", "--json", "--group", "--js", "--gr", "--json=1",
           "--subprocesses", "--sub"]
_FIELDS = {"command", "verbose", "no_color", "native", "native_all", "native_last", "locals",
           "exhaustive", "locals_max_length", "json", "group"}
_REMOTE = {"pid", "no_block", "subprocesses"}
_CORE = {"core", "executable", "lib_search_path", "lib_search_root"}


def _by_argparse(argv):
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit:
        return None
    args.verbose += getattr(args, "verbose_sub", 0)
    return args


def _same(plain, reference) -> None:
    fields = _FIELDS | (_REMOTE if reference.command == "remote" else _CORE)
    assert {f: getattr(plain, f) for f in fields} == {f: getattr(reference, f) for f in fields}


# Options with a value next to it, good or bad: what single tokens rarely line up into.
_PAIRS = [["--locals-max-length", "x"], ["--locals-max-length", "5"],
          ["--locals-max-length", "2"], ["--locals-max-length", "3"],
          ["--locals-max-length", "-1"], ["--lib-search-path", "/a"],
          ["--lib-search-root", "/r"], ["--lib-search-path", "-x"], ["-v", "remote"]]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_TOKENS).map(lambda token: [token]),
                          st.sampled_from(_PAIRS)), max_size=6),
       st.sampled_from([[], ["remote"], ["core"], ["remote", "12"], ["remote", "1"],
                        ["core", "c.core"]]))
def test_plain_parse_agrees_with_argparse(pieces, start):
    argv = start + [token for piece in pieces for token in piece]
    plain = parse_plain(argv)
    reference = _by_argparse(argv)
    if plain is not None:
        assert reference is not None, argv
        _same(plain, reference)


@pytest.mark.parametrize("argv", [
    ["remote", "12"], ["-v", "remote", "--native", "12", "--locals-max-length", "9"],
    ["remote", "--no-block", "--locals", "12", "-vv", "--no-color"],
    ["core", "c.core"], ["core", "c.core", "/usr/bin/python3", "--native-last"],
    ["core", "--lib-search-path=/a:/b", "c.core", "exe", "--exhaustive"],
    ["--no-color", "core", "c.core", "--lib-search-root", "/r", "--native-all"],
    ["remote", "--json", "--native", "12"], ["core", "c.core", "--group", "--locals"],
    ["remote", "12", "--group", "--json"], ["remote", "--subprocesses", "--native", "12"],
])
def test_plain_parse_reads_what_operators_type(argv):
    plain = parse_plain(argv)
    assert plain is not None, argv
    _same(plain, _by_argparse(argv))


@pytest.mark.parametrize("argv", [
    ["remote", "--help"], ["remote", "--nat", "12"], ["core", "a", "--native", "b"],
    ["core", "c", "--lib-search-path", "a", "--lib-search-root", "b"], ["remote", "0"],
    ["remote", "--", "12"], [], ["-h"],
    ["remote", "12", "--locals-max-length", "x", "--locals-max-length", "5"],
])
def test_anything_else_goes_to_argparse(argv):
    assert parse_plain(argv) is None


def test_plain_parse_takes_every_pid_and_only_valid_lengths():
    """The fast path must not hand small pids to argparse (the pytest plugin checks
    its arguments with it), nor take a value length argparse refuses."""
    for pid in ("1", "2", "12"):
        assert parse_plain(["remote", pid]).pid == int(pid)
    assert parse_plain(["remote", "--locals-max-length", "3", "7"]).locals_max_length == 3
    assert parse_plain(["remote", "--locals-max-length", "2", "7"]) is None
    assert _by_argparse(["remote", "--locals-max-length", "2", "7"]) is None  # refused
    assert _by_argparse(["remote", "--locals-max-length", "3", "7"]).locals_max_length == 3
