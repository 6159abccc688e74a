#!/usr/bin/env python3
"""Provision every target interpreter the tests run against, into `.targets/`.

Two sources:
  * pyenv builds already on the machine (2.7, 3.6 ... 3.13): recorded, not copied.
  * a Debian sid chroot made with debootstrap, holding the interpreters this machine
    lacks (3.13, 3.14, 3.14 debug, 3.15, and the -nopie builds).

The result is `.targets/manifest.json`, a list of interpreters with the path to start
them, the root they live under and their version; the tests read only that file, so a
machine where some source is unavailable still tests what it has (and says what it
skipped).  Re-running is cheap: the chroot is reused when it already holds everything.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_DIR = os.path.join(REPO, ".targets")

SID_PACKAGES = [
    "python3.13", "python3.13-nopie",
    "python3.14", "python3.14-dbg", "python3.14-nopie",
    "python3.15", "python3.15-nopie",
    # Debian's sid builds export no _PyEval_EvalFrameDefault: merging native frames
    # needs their debug files (as a user would install them)
    "python3.13-dbg", "python3.15-dbg",
    # gdb 13 of bookworm writes zeros for the thread stacks of processes running on
    # sid's glibc; the tests use the chroot's own gcore for those targets.
    "gdb",
]
# (name in the manifest, path inside the chroot)
SID_INTERPRETERS = [
    # Debian's -nopie packages divert /usr/bin/python3.X to the non-PIE build and keep
    # the packaged build as python3.X-pie (on sid both are linked at a fixed address);
    # both are wanted.
    ("sid-3.13", "/usr/bin/python3.13"),
    ("sid-3.13-pie", "/usr/bin/python3.13-pie"),
    ("sid-3.14", "/usr/bin/python3.14"),
    ("sid-3.14d", "/usr/bin/python3.14d"),
    ("sid-3.14-pie", "/usr/bin/python3.14-pie"),
    ("sid-3.15", "/usr/bin/python3.15"),
    ("sid-3.15-pie", "/usr/bin/python3.15-pie"),
]
PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def log(msg: str) -> None:
    print(f"provision: {msg}", file=sys.stderr, flush=True)


def probe_version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv + ["-c", PROBE], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def pyenv_interpreters() -> list[dict]:
    found = []
    root = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    for prefix in sorted(glob.glob(os.path.join(root, "versions", "*"))):
        exe = os.path.join(prefix, "bin", "python")
        if not os.access(exe, os.X_OK) or os.path.islink(prefix):
            continue
        version = probe_version([exe])
        if version:
            found.append({"name": f"pyenv-{version}", "exe": exe, "root": "/",
                          "argv": [exe], "version": version})
    return found


def system_interpreters() -> list[dict]:
    found = []
    for exe in sorted(glob.glob("/usr/bin/python[23].[0-9]*")):
        if not os.path.basename(exe).replace("python", "").replace(".", "").isdigit():
            continue
        version = probe_version([exe])
        if version:
            found.append({"name": f"system-{version}", "exe": exe, "root": "/",
                          "argv": [exe], "version": version})
    return found


def missing_packages(root: str) -> list[str]:
    info = os.path.join(root, "var/lib/dpkg/info")
    return [p for p in SID_PACKAGES
            if not glob.glob(os.path.join(info, p + ".list"))
            and not glob.glob(os.path.join(info, p + ":*.list"))]


def chroot_complete(root: str) -> bool:
    if not all(os.path.exists(root + path) for _, path in SID_INTERPRETERS):
        return False
    missing = missing_packages(root)
    if missing:  # an older chroot: add what it lacks rather than starting over
        log("adding to the sid chroot: " + " ".join(missing))
        subprocess.run(["chroot", root, "apt-get", "install", "-y", "-qq"] + missing,
                       stdout=subprocess.DEVNULL, check=False)
        missing = missing_packages(root)
    return not missing


def make_sid_chroot(root: str, cache: str) -> bool:
    if chroot_complete(root):
        log(f"sid chroot already complete at {root}")
        return True
    if shutil.which("debootstrap") is None:
        log("installing debootstrap")
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=False,
                       stdout=subprocess.DEVNULL)
    if shutil.which("debootstrap") is None:
        log("debootstrap unavailable: the sid interpreters will be skipped")
        return False
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(cache, exist_ok=True)
    cmd = ["debootstrap", "--variant=minbase", f"--cache-dir={cache}",
           "--include=" + ",".join(SID_PACKAGES), "sid", root,
           "http://deb.debian.org/debian"]
    log("running " + " ".join(cmd))
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    if result.returncode != 0 or not chroot_complete(root):
        log("debootstrap failed: the sid interpreters will be skipped")
        return False
    return True


def sid_interpreters(root: str) -> list[dict]:
    found = []
    for name, path in SID_INTERPRETERS:
        if not os.path.exists(root + path):
            continue
        argv = ["chroot", root, path]
        version = probe_version(argv)
        if version:
            found.append({"name": name, "exe": root + path, "root": root,
                          "argv": argv, "version": version})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=os.environ.get("PYSTACK_TARGETS", DEFAULT_DIR))
    parser.add_argument("--deb-cache", default="/var/cache/pystack-debs",
                        help="where debootstrap keeps downloaded packages between runs")
    parser.add_argument("--no-sid", action="store_true", help="skip the sid chroot")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    interpreters = pyenv_interpreters() + system_interpreters()
    if not args.no_sid and os.geteuid() == 0:
        sid_root = os.path.join(args.dir, "sid")
        if make_sid_chroot(sid_root, args.deb_cache):
            interpreters += sid_interpreters(sid_root)
    elif not args.no_sid:
        log("not root: cannot debootstrap; the sid interpreters will be skipped")

    manifest = os.path.join(args.dir, "manifest.json")
    with open(manifest, "w") as f:
        json.dump(interpreters, f, indent=2)
    for item in interpreters:
        log(f"{item['name']:<18} {item['version']:<9} {item['exe']}")
    log(f"wrote {manifest} ({len(interpreters)} interpreters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
