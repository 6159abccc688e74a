"""Decoding source files as the interpreter did (PEP 263 cookies, BOM) and finding
them (relative names, zip archives, files changed after the start)."""
from __future__ import annotations

import os
import time
import zipfile

from hypothesis import given, strategies as st

from pystack.render.sources import SourceLines, coding_cookie, decoded


def test_coding_cookies_as_the_tokenizer_reads_them():
    assert coding_cookie(b"# -*- coding: latin-1 -*-\nx = 1\n") == "latin-1"
    assert coding_cookie(b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n") \
        == "cp1252"
    assert coding_cookie(b"\n# coding=utf-8\n") == "utf-8"
    assert coding_cookie(b"x = 1\n# coding: latin-1\n") is None  # after code: not a cookie
    assert coding_cookie(b"# no cookie\n# nor here\n# coding: latin-1\n") is None  # line 3
    assert coding_cookie(b"") is None


def test_decoding_follows_bom_cookie_then_utf8():
    assert decoded("# coding: latin-1\ns = 'été'\n".encode("latin-1")).splitlines()[1] == \
        "s = 'été'"
    assert decoded(b"\xef\xbb\xbfs = '\xc3\xa9'\n") == "s = 'é'\n"
    assert decoded(b"# coding: no-such-codec\ns = '\xc3\xa9'\n").endswith("s = 'é'\n")
    assert decoded(b"s = '\xff'\n") == "s = '\ufffd'\n"


@given(st.binary(max_size=200))
def test_any_bytes_decode(data):
    assert isinstance(decoded(data), str)


def test_relative_names_zip_members_and_stale_files(tmp_path):
    (tmp_path / "rel.py").write_text("a\nb\n")
    with zipfile.ZipFile(tmp_path / "app.pyz", "w") as archive:
        archive.writestr("pkg/mod.py", "first\nsecond\n")
    started = time.time()
    stale = tmp_path / "stale.py"
    stale.write_text("new code\n")
    os.utime(stale, (started + 10, started + 10))
    sources = SourceLines(str, cwd=str(tmp_path), not_after=started)
    assert sources.line("rel.py", 2) == "b"
    assert sources.line(f"{tmp_path}/app.pyz/pkg/mod.py", 2) == "second"
    assert sources.line(f"{tmp_path}/app.pyz/pkg/none.py", 1) is None
    assert sources.line(str(stale), 1) is None
    assert sources.line("<string>", 1) is None
    assert SourceLines(str).line("rel.py", 1) is None  # no working directory known
    assert sources.raw_line(f"{tmp_path}/rel.py", 1) == b"a"
