"""A script written against Bloomberg's pystack API, the way its documentation and its
own command line use it; the compatibility tests run it unchanged against ours.

    api_script.py remote PID
    api_script.py core CORE EXECUTABLE [LIBRARY_SEARCH_PATH]

It prints one JSON object: what a script would collect (threads, frames, statuses,
the formatted text, the core's facts), with checks of the types and behaviours such
scripts rely on (equality, hashing, enums, exceptions) recorded as booleans.
"""
import json
import pathlib
import sys

from pystack.engine import (CoreFileAnalyzer, NativeReportingMode, StackMethod,
                            get_process_threads, get_process_threads_for_core)
from pystack.errors import EngineError, InvalidPythonProcess, ProcessNotFound, PystackError
from pystack.traceback_formatter import format_thread
from pystack.types import LocationInfo, NativeFrame, PyThread, frame_type


def describe(threads):
    out = []
    for thread in threads:
        assert isinstance(thread, PyThread)
        frames = []
        for frame in thread.frames:
            lineno, end_lineno, column, end_column = frame.code.location
            assert isinstance(frame.code.location, LocationInfo)
            frames.append({"file": frame.code.filename, "scope": frame.code.scope,
                           "line": lineno, "end_line": end_lineno,
                           "arguments": frame.arguments, "locals": frame.locals})
        out.append({"tid": thread.tid, "name": thread.name, "status": thread.status,
                    "holds_the_gil": thread.holds_the_gil,
                    "is_gc_collecting": thread.is_gc_collecting,
                    "python_version": list(thread.python_version),
                    "interpreter_id": thread.interpreter_id,
                    "first": thread.first_frame.code.scope if thread.first_frame else None,
                    "text": list(format_thread(thread, NativeReportingMode.OFF)),
                    "frames": frames})
    return out


def behaviours(threads):
    first, *rest = threads
    return {
        "equal_to_itself": all(t == t for t in threads),
        "others_differ": all(t != first for t in rest),
        "filter_by_inequality": len([t for t in threads if t != first]) == len(rest),
        "locations_hash": len({f.code.location for t in threads for f in t.frames}) > 0,
        "enums_hash": len({StackMethod.AUTO, StackMethod.ALL, NativeReportingMode.OFF}) == 3,
        "method_bits": StackMethod.AUTO.value & StackMethod.ELF_DATA.value == 1,
        "frame_type_names": sorted(m.name for m in NativeFrame.FrameType),
        "frame_type_eval": frame_type(NativeFrame(0, "_PyEval_EvalFrameDefault", "", 0, 0,
                                                  "libpython"), (3, 12)).name,
    }


def errors_caught():
    """What a script's `except` chain sees for a pid that does not exist."""
    try:
        get_process_threads(2 ** 22 + 12345)
    except EngineError:
        return "EngineError"
    except InvalidPythonProcess:
        return "InvalidPythonProcess"
    except ProcessNotFound as error:
        return "ProcessNotFound " + str(isinstance(error, ProcessLookupError))
    except PystackError:
        return "PystackError"
    return "nothing"


def main():
    mode = sys.argv[1]
    result = {}
    if mode == "remote":
        threads = get_process_threads(int(sys.argv[2]), stop_process=True,
                                      native_mode=NativeReportingMode.OFF, locals=True,
                                      method=StackMethod.AUTO)
    else:
        core, executable = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
        search = sys.argv[4] if len(sys.argv) > 4 else None
        analyzer = CoreFileAnalyzer(core, executable, search)
        maps = analyzer.extract_maps()
        result["core"] = {
            "pid": analyzer.extract_pid(),
            "executable": str(analyzer.extract_executable()),
            "ps": analyzer.extract_ps_info(),
            "failure": analyzer.extract_failure_info(),
            "map_paths": sorted({str(m.path) for m in maps if m.path is not None}),
            "maps_contain_themselves": all(m.contains(m.start) and not m.contains(m.end)
                                           for m in maps),
            "missing": sorted(str(p) for p in analyzer.missing_modules()),
            "build_ids": [list(b) for b in analyzer.extract_build_ids()][:3],
        }
        threads = get_process_threads_for_core(core, executable, search,
                                               native_mode=NativeReportingMode.OFF,
                                               locals=True, method=StackMethod.AUTO)
    result["threads"] = describe(threads)
    result["behaviours"] = behaviours(threads)
    result["not_found"] = errors_caught()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
