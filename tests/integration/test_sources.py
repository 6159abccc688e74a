"""Source lines as the target's own traceback shows them, on every provisioned
interpreter, live and from a gcore core: a latin-1 file with a coding cookie, a
UTF-8 file with a BOM, a script started by a relative name, a module imported from a
zip archive; and a file changed after the process started, whose line is left out
(with a warning) rather than printed as if it were the code that runs.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import zipfile

import pytest

from conftest import interpreter_params, run_pystack
from integration.parse_output import parse_sections
from integration.targets_util import wait_until_sleeping
from integration.test_core import core_args, gcore

# Each module parks one thread on a line whose text the test knows; runs on 2.7 too.
LATIN = (b"# -*- coding: latin-1 -*-\nimport time\n\n\ndef park():\n"
         b"    s = u'\xe9t\xe9'; time.sleep(100000)  # LATIN\n")
BOM = (b"\xef\xbb\xbfimport time\n\n\ndef park():\n"
       b"    s = u'\xc3\xa9t\xc3\xa9'; time.sleep(100000)  # BOM\n")
ZIPPED = b"import time\n\n\ndef park():\n    time.sleep(100000)  # ZIPPED\n"
STALE = b"import time\n\n\ndef park():\n    time.sleep(100000)  # STALE\n"
MAIN = b"""import json, os, sys, threading, time
sys.path.insert(0, os.path.join(os.getcwd(), "bundle.zip"))
sys.path.insert(0, os.getcwd())
import latin, bom, zipped, stale
for module in (latin, bom, zipped, stale):
    threading.Thread(target=module.park, name=module.__name__).start()
time.sleep(0.5)
sys.stdout.write(json.dumps({"pid": os.getpid()}) + "\\n")
sys.stdout.flush()
while True:
    time.sleep(100000)  # MAIN
"""
EXPECTED = {
    "latin": u"s = u'\xe9t\xe9'; time.sleep(100000)  # LATIN",
    "bom": u"s = u'\xe9t\xe9'; time.sleep(100000)  # BOM",
    "zipped": "time.sleep(100000)  # ZIPPED",
    "MainThread": "time.sleep(100000)  # MAIN",
}


class Target:
    def __init__(self, interpreter: dict) -> None:
        root = interpreter["root"] or "/"
        host_tmp = os.path.join(root, "tmp")
        os.makedirs(host_tmp, exist_ok=True)
        self.host_dir = tempfile.mkdtemp(prefix="pystack-sources-", dir=host_tmp)
        os.chmod(self.host_dir, 0o755)
        inside = self.host_dir if root == "/" else "/tmp/" + os.path.basename(self.host_dir)
        for name, data in (("latin.py", LATIN), ("bom.py", BOM), ("stale.py", STALE),
                           ("main.py", MAIN)):
            with open(os.path.join(self.host_dir, name), "wb") as f:
                f.write(data)
        with zipfile.ZipFile(os.path.join(self.host_dir, "bundle.zip"), "w") as archive:
            archive.writestr("zipped.py", ZIPPED)
        self.zip_path = os.path.join(inside, "bundle.zip", "zipped.py")
        # a relative script name, from its folder (inside the chroot for sid targets)
        argv = interpreter["argv"][:-1] + [
            "/bin/sh", "-c", f'cd {inside} && exec "$0" main.py', interpreter["argv"][-1]]
        time.sleep(0.2)  # the files are older than the process by more than the slack
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(self.proc.stderr.read()[-2000:])
        self.pid = json.loads(line)["pid"]
        wait_until_sleeping(self.pid)
        time.sleep(0.2)
        # changed after the process started: its line must not be shown
        with open(os.path.join(self.host_dir, "stale.py"), "ab") as f:
            f.write(b"# changed\n")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.host_dir, ignore_errors=True)


def check(output: str, stderr: str) -> None:
    blocks = parse_sections(output)
    by_name = {b["name"]: b for b in blocks.values()}
    for name, line in EXPECTED.items():
        (section,) = by_name[name]["sections"]
        innermost = section["frames"][-1]
        assert innermost["code"] == line, (name, innermost)
    stale = by_name["stale"]["sections"][0]["frames"][-1]
    assert stale["file"].endswith("stale.py") and stale["code"] is None, stale
    assert "stale.py changed after the process started" in stderr


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_source_lines(interpreter, tmp_path):
    target = Target(interpreter)
    try:
        live = run_pystack("remote", str(target.pid))
        assert live.returncode == 0, live.stderr
        check(live.stdout, live.stderr)
        document = json.loads(run_pystack("remote", "--json", str(target.pid)).stdout)
        codes = {t["name"]: t["frames"][-1]["code"]
                 for t in document["processes"][0]["threads"]}
        assert {name: codes[name] for name in EXPECTED} == EXPECTED
        assert codes["stale"] is None
        if shutil.which("gcore"):
            core = gcore(interpreter, target, tmp_path)
            from_core = run_pystack(*core_args(interpreter, core))
            assert from_core.returncode == 0, from_core.stderr
            blocks = parse_sections(from_core.stdout)
            by_name = {b["name"]: b for b in blocks.values()}
            # a core does not say where the process's working directory was: a
            # relative name gets no line rather than a guess
            for name in ("latin", "bom", "zipped"):
                assert by_name[name]["sections"][0]["frames"][-1]["code"] == EXPECTED[name]
            os.unlink(core)
    finally:
        target.close()
