"""pystack: print the Python stacks of a running process or a core dump.

Nothing runs inside the target: memory is read with process_vm_readv (live) or from
the core file, and CPython's structures are decoded from per-version layout data.
"""
__version__ = "0.1.0"
