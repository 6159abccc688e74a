"""Turn linker symbol names into the names a programmer wrote.

* C++ (Itanium ABI, ``_Z…``): libstdc++'s own ``__cxa_demangle`` through
  ctypes.  It is the reference implementation, it is present wherever a C++
  program can run, and it keeps us from maintaining a C++ grammar.  Without
  libstdc++ the mangled name is returned unchanged.
* Rust legacy (``_ZN…17h<16 hex>E``): these are valid Itanium names, but the
  C++ demangler would print Rust's ``$LT$``-style escapes and the hash.  We
  decode them here and drop the hash, as Rust's own backtraces do.
* Rust v0 (``_R…``): a Python implementation of the v0 grammar (RFC 2603),
  printed the way Rust's backtraces print it (crate disambiguators and the
  type suffixes of constants are left out).

`demangle` never raises: a name it cannot decode is returned as it was.
A version suffix the binary attaches (``name@GLIBCXX_3.4``, ``@@``) is kept.
"""
from __future__ import annotations

import ctypes
import functools
import re
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, List, Optional

__all__ = ["demangle", "demangle_cxx", "demangle_rust_legacy", "demangle_rust_v0"]

#: Longer inputs are returned untouched: real symbols stay far below this, and
#: it bounds the work a hostile or corrupted name can cause.
_MAX_NAME = 1 << 16


@functools.lru_cache(maxsize=16384)
def demangle(name: str) -> str:
    """The human-readable form of `name`, or `name` itself if it is not mangled."""
    try:
        return _demangle(name)
    except Exception:  # noqa: BLE001 - a demangler must never break a dump
        return name


def _demangle(name: str) -> str:
    if len(name) > _MAX_NAME or "\x00" in name:
        return name
    base, at, version = name.partition("@")
    if base.startswith(("_R", "__R")):
        result = demangle_rust_v0(base)
    elif base.startswith(("_Z", "__Z")):
        result = demangle_rust_legacy(base)
        if result is None:
            result = demangle_cxx(base)
    else:
        return name
    if result is None:
        return name
    return result + at + version


# --------------------------------------------------------------------- C++

_cxa_lock = threading.Lock()
_cxa: Optional[tuple[Callable[..., int], Callable[[int], None]]] = None
_cxa_loaded = False


def _load_cxa() -> Optional[tuple[Callable[..., int], Callable[[int], None]]]:
    """Find ``__cxa_demangle`` in libstdc++ (loaded once; None if absent)."""
    global _cxa, _cxa_loaded
    if _cxa_loaded:
        return _cxa
    with _cxa_lock:
        if _cxa_loaded:
            return _cxa
        # By soname only: ctypes.util.find_library would run ldconfig or a
        # compiler, and pystack never runs another program.
        for candidate in ("libstdc++.so.6",):
            try:
                library = ctypes.CDLL(candidate)
                func = library.__cxa_demangle
            except (OSError, AttributeError):
                continue
            func.restype = ctypes.c_void_p
            func.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            free = ctypes.CDLL(None).free
            free.restype = None
            free.argtypes = [ctypes.c_void_p]
            _cxa = (func, free)
            break
        _cxa_loaded = True
    return _cxa


def demangle_cxx(name: str) -> Optional[str]:
    """Demangle an Itanium C++ name with libstdc++; None if it is not one."""
    if name.startswith("__Z"):
        name = name[1:]
    if not name.startswith("_Z"):
        # __cxa_demangle also accepts bare types ("i" -> "int"): never feed it
        # a plain C name.
        return None
    functions = _load_cxa()
    if functions is None:
        return None
    func, free = functions
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        return None
    status = ctypes.c_int(0)
    pointer = func(raw, None, None, ctypes.byref(status))
    if not pointer:
        return None
    try:
        if status.value != 0:
            return None
        result = ctypes.string_at(pointer)
    finally:
        free(pointer)
    return result.decode("utf-8", "replace")


# ------------------------------------------------------------- Rust legacy

_LEGACY_HASH = re.compile(r"h[0-9a-f]{16}\Z")
_LLVM_SUFFIX = re.compile(r"\.llvm\.[0-9A-Fa-f@]+\Z")
_LEGACY_ESCAPES = {
    "SP": "@",
    "BP": "*",
    "RF": "&",
    "LT": "<",
    "GT": ">",
    "LP": "(",
    "RP": ")",
    "C": ",",
}


def demangle_rust_legacy(name: str) -> Optional[str]:
    """Demangle a legacy Rust symbol (``_ZN…17h<hash>E``); None if it is not one.

    The hash element is what tells a Rust symbol from a C++ one; without it the
    name goes to the C++ demangler.
    """
    name = _LLVM_SUFFIX.sub("", name)
    if name.startswith("__ZN"):
        name = name[1:]
    elif name.startswith("ZN"):
        name = "_" + name
    if not name.startswith("_ZN") or not name.isascii():
        return None
    pos = 3
    elements: List[str] = []
    while True:
        if pos >= len(name):
            return None
        if name[pos] == "E":
            pos += 1
            break
        start = pos
        while pos < len(name) and name[pos].isdigit():
            pos += 1
        if pos == start or (name[start] == "0"):
            return None
        length = int(name[start:pos])
        if length == 0 or pos + length > len(name):
            return None
        elements.append(name[pos : pos + length])
        pos += length
    if pos != len(name) or len(elements) < 2 or not _LEGACY_HASH.match(elements[-1]):
        return None
    parts = []
    for element in elements[:-1]:
        decoded = _legacy_element(element)
        if decoded is None:
            return None
        parts.append(decoded)
    return "::".join(parts)


def _legacy_element(element: str) -> Optional[str]:
    """Undo legacy Rust's escapes in one path element."""
    if not all(c.isalnum() or c in "_$." for c in element):
        return None
    rest = element
    if rest.startswith("_$"):
        rest = rest[1:]
    out: List[str] = []
    while rest:
        if rest.startswith(".."):
            out.append("::")
            rest = rest[2:]
        elif rest.startswith("."):
            out.append(".")
            rest = rest[1:]
        elif rest.startswith("$"):
            end = rest.find("$", 1)
            if end < 0:
                out.append(rest)
                break
            escape = rest[1:end]
            if escape in _LEGACY_ESCAPES:
                out.append(_LEGACY_ESCAPES[escape])
            elif escape.startswith("u") and re.fullmatch(r"[0-9a-f]{1,6}", escape[1:]):
                code = int(escape[1:], 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or not chr(code).isprintable():
                    out.append(rest)
                    break
                out.append(chr(code))
            else:
                out.append(rest)
                break
            rest = rest[end + 1 :]
        else:
            cut = len(rest)
            for marker in ("$", "."):
                found = rest.find(marker)
                if found >= 0:
                    cut = min(cut, found)
            out.append(rest[:cut])
            rest = rest[cut:]
    return "".join(out)


# ----------------------------------------------------------------- Rust v0


class _Invalid(Exception):
    """The symbol does not follow the v0 grammar (or goes too deep)."""


_BASIC_TYPES = {
    "a": "i8",
    "b": "bool",
    "c": "char",
    "d": "f64",
    "e": "str",
    "f": "f32",
    "h": "u8",
    "i": "isize",
    "j": "usize",
    "l": "i32",
    "m": "u32",
    "n": "i128",
    "o": "u128",
    "s": "i16",
    "t": "u16",
    "u": "()",
    "v": "...",
    "x": "i64",
    "y": "u64",
    "z": "!",
    "p": "_",
}
_UNSIGNED_CONST = "htmyoj"
_SIGNED_CONST = "aslxni"
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Nesting limit: real symbols nest a few dozen levels; this keeps the Python
#: recursion far from its own limit on adversarial input.
_MAX_DEPTH = 150


class _V0Printer:
    """A recursive-descent parser of one v0 symbol that prints as it parses.

    `out` is None while a part of the symbol is parsed only to skip it (the
    impl-path of an impl block is not printed); backrefs are not followed
    then, which keeps the work linear in the length of the symbol.
    """

    def __init__(self, sym: str) -> None:
        self.sym = sym
        self.pos = 0
        self.out: Optional[List[str]] = []
        self.depth = 0
        self.bound_lifetimes = 0

    # -- lexing

    def peek(self) -> str:
        return self.sym[self.pos] if self.pos < len(self.sym) else ""

    def next(self) -> str:
        if self.pos >= len(self.sym):
            raise _Invalid("unexpected end")
        c = self.sym[self.pos]
        self.pos += 1
        return c

    def eat(self, c: str) -> bool:
        if self.pos < len(self.sym) and self.sym[self.pos] == c:
            self.pos += 1
            return True
        return False

    def base62(self) -> int:
        """``_`` is 0; ``<digits>_`` is the base-62 value plus one."""
        if self.eat("_"):
            return 0
        value = 0
        while True:
            c = self.next()
            if c == "_":
                return value + 1
            digit = _B62.find(c)
            if digit < 0:
                raise _Invalid("bad base-62 digit")
            value = value * 62 + digit
            if value > 1 << 64:
                raise _Invalid("number too large")

    def opt_base62(self, tag: str) -> int:
        if not self.eat(tag):
            return 0
        return self.base62() + 1

    def decimal(self) -> int:
        start = self.pos
        c = self.next()
        if c == "0":
            return 0
        if not c.isdigit():
            raise _Invalid("expected a decimal number")
        while self.peek().isdigit():
            self.pos += 1
        if self.pos - start > 10:
            raise _Invalid("number too large")
        return int(self.sym[start : self.pos])

    def ident(self) -> tuple[str, str]:
        """An undisambiguated identifier as (ascii part, punycode part)."""
        punycode = self.eat("u")
        length = self.decimal()
        self.eat("_")
        end = self.pos + length
        if end > len(self.sym):
            raise _Invalid("identifier past the end")
        text = self.sym[self.pos : end]
        self.pos = end
        if not punycode:
            return text, ""
        cut = text.rfind("_")
        if cut < 0:
            return "", text
        return text[:cut], text[cut + 1 :]

    @staticmethod
    def ident_text(parts: tuple[str, str]) -> str:
        ascii_part, puny = parts
        if not puny:
            return ascii_part
        if not puny.isascii():
            raise _Invalid("bad punycode")
        encoded = (ascii_part + "-" + puny) if ascii_part else puny
        try:
            return encoded.encode("ascii").decode("punycode")
        except (UnicodeError, ValueError, IndexError, OverflowError) as exc:
            raise _Invalid("bad punycode") from exc

    def hex_nibbles(self) -> str:
        start = self.pos
        while True:
            c = self.next()
            if c == "_":
                return self.sym[start : self.pos - 1]
            if c not in "0123456789abcdef":
                raise _Invalid("bad hex digit")

    # -- printing

    def print(self, text: str) -> None:
        if self.out is not None:
            self.out.append(text)

    def push_depth(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Invalid("too deep")

    def pop_depth(self) -> None:
        self.depth -= 1

    def backref(self, then: Callable[[], object]) -> object:
        start = self.pos - 1  # the "B"
        target = self.base62()
        if target >= start:
            raise _Invalid("forward backref")
        if self.out is None:
            return False
        self.push_depth()
        saved = self.pos
        self.pos = target
        try:
            return then()
        finally:
            self.pos = saved
            self.pop_depth()

    def sep_list(self, item: Callable[[], object], sep: str) -> int:
        count = 0
        while not self.eat("E"):
            if count:
                self.print(sep)
            item()
            count += 1
        return count

    def lifetime(self, index: int) -> None:
        self.print("'")
        if index == 0:
            self.print("_")
            return
        depth = self.bound_lifetimes - index
        if depth < 0:
            raise _Invalid("lifetime out of range")
        if depth < 26:
            self.print(chr(ord("a") + depth))
        else:
            self.print(f"_{depth}")

    def in_binder(self, body: Callable[[], object]) -> None:
        bound = self.opt_base62("G")
        if bound > 1000:
            raise _Invalid("too many lifetimes")
        if bound:
            self.print("for<")
            for i in range(bound):
                if i:
                    self.print(", ")
                self.bound_lifetimes += 1
                self.lifetime(1)
            self.print("> ")
        try:
            body()
        finally:
            self.bound_lifetimes -= bound

    # -- grammar

    def path(self, in_value: bool) -> None:
        self.push_depth()
        tag = self.next()
        if tag == "C":
            self.opt_base62("s")
            self.print(self.ident_text(self.ident()))
        elif tag == "N":
            ns = self.next()
            if not ns.isalpha() or not ns.isascii():
                raise _Invalid("bad namespace")
            self.path(in_value)
            disambiguator = self.opt_base62("s")
            name = self.ident_text(self.ident())
            if ns.isupper():
                self.print("::{")
                self.print({"C": "closure", "S": "shim"}.get(ns, ns))
                if name:
                    self.print(":" + name)
                self.print(f"#{disambiguator}}}")
            elif name:
                self.print("::" + name)
        elif tag in "MXY":
            if tag != "Y":
                self.opt_base62("s")
                self.skip(lambda: self.path(False))
            self.print("<")
            self.type()
            if tag != "M":
                self.print(" as ")
                self.path(False)
            self.print(">")
        elif tag == "I":
            self.path(in_value)
            if in_value:
                self.print("::")
            self.print("<")
            self.sep_list(self.generic_arg, ", ")
            self.print(">")
        elif tag == "B":
            self.backref(lambda: self.path(in_value))
        else:
            raise _Invalid("bad path tag")
        self.pop_depth()

    def skip(self, body: Callable[[], object]) -> None:
        saved = self.out
        self.out = None
        try:
            body()
        finally:
            self.out = saved

    def generic_arg(self) -> None:
        if self.eat("L"):
            self.lifetime(self.base62())
        elif self.eat("K"):
            self.const(False)
        else:
            self.type()

    def type(self) -> None:
        tag = self.next()
        basic = _BASIC_TYPES.get(tag)
        if basic is not None:
            self.print(basic)
            return
        self.push_depth()
        if tag in "RQ":
            self.print("&")
            if self.eat("L"):
                index = self.base62()
                if index:
                    self.lifetime(index)
                    self.print(" ")
            if tag == "Q":
                self.print("mut ")
            self.type()
        elif tag in "PO":
            self.print("*const " if tag == "P" else "*mut ")
            self.type()
        elif tag in "AS":
            self.print("[")
            self.type()
            if tag == "A":
                self.print("; ")
                self.const(True)
            self.print("]")
        elif tag == "T":
            self.print("(")
            if self.sep_list(self.type, ", ") == 1:
                self.print(",")
            self.print(")")
        elif tag == "F":
            self.in_binder(self.fn_sig)
        elif tag == "D":
            self.print("dyn ")
            self.in_binder(lambda: self.sep_list(self.dyn_trait, " + "))
            if not self.eat("L"):
                raise _Invalid("dyn without lifetime")
            index = self.base62()
            if index:
                self.print(" + ")
                self.lifetime(index)
        elif tag == "B":
            self.backref(self.type)
        else:
            self.pos -= 1
            self.path(False)
        self.pop_depth()

    def fn_sig(self) -> None:
        unsafe = self.eat("U")
        abi: Optional[str] = None
        if self.eat("K"):
            if self.eat("C"):
                abi = "C"
            else:
                ascii_part, puny = self.ident()
                if not ascii_part or puny:
                    raise _Invalid("bad ABI")
                abi = ascii_part.replace("_", "-")
        if unsafe:
            self.print("unsafe ")
        if abi is not None:
            self.print(f'extern "{abi}" ')
        self.print("fn(")
        self.sep_list(self.type, ", ")
        self.print(")")
        if not self.eat("u"):
            self.print(" -> ")
            self.type()

    def dyn_trait(self) -> None:
        opened = self.path_maybe_open_generics()
        while self.eat("p"):
            self.print(", " if opened else "<")
            opened = True
            self.print(self.ident_text(self.ident()))
            self.print(" = ")
            self.type()
        if opened:
            self.print(">")

    def path_maybe_open_generics(self) -> bool:
        if self.eat("B"):
            result = self.backref(self.path_maybe_open_generics)
            return bool(result)
        if self.eat("I"):
            self.path(False)
            self.print("<")
            self.sep_list(self.generic_arg, ", ")
            return True
        self.path(False)
        return False

    def const(self, in_value: bool) -> None:
        tag = self.next()
        self.push_depth()
        braced = False

        def open_brace() -> None:
            nonlocal braced
            if not in_value:
                braced = True
                self.print("{")

        if tag == "p":
            self.print("_")
        elif tag in _UNSIGNED_CONST:
            self.const_uint()
        elif tag in _SIGNED_CONST:
            if self.eat("n"):
                self.print("-")
            self.const_uint()
        elif tag == "b":
            value = self.hex_value()
            if value not in (0, 1):
                raise _Invalid("bad bool")
            self.print("true" if value else "false")
        elif tag == "c":
            value = self.hex_value()
            if value is None or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise _Invalid("bad char")
            self.print(_quote("'", chr(value)))
        elif tag == "e":
            open_brace()
            self.print("*")
            self.const_str()
        elif tag in "RQ":
            if tag == "R" and self.eat("e"):
                self.const_str()
            else:
                open_brace()
                self.print("&" if tag == "R" else "&mut ")
                self.const(True)
        elif tag == "A":
            open_brace()
            self.print("[")
            self.sep_list(lambda: self.const(True), ", ")
            self.print("]")
        elif tag == "T":
            open_brace()
            self.print("(")
            if self.sep_list(lambda: self.const(True), ", ") == 1:
                self.print(",")
            self.print(")")
        elif tag == "V":
            open_brace()
            self.path(True)
            kind = self.next()
            if kind == "T":
                self.print("(")
                self.sep_list(lambda: self.const(True), ", ")
                self.print(")")
            elif kind == "S":
                self.print(" { ")
                self.sep_list(self.const_field, ", ")
                self.print(" }")
            elif kind != "U":
                raise _Invalid("bad const variant")
        elif tag == "B":
            self.backref(lambda: self.const(in_value))
        else:
            raise _Invalid("bad const tag")
        if braced:
            self.print("}")
        self.pop_depth()

    def const_field(self) -> None:
        self.opt_base62("s")
        self.print(self.ident_text(self.ident()))
        self.print(": ")
        self.const(True)

    def hex_value(self) -> Optional[int]:
        nibbles = self.hex_nibbles().lstrip("0")
        if len(nibbles) > 16:
            return None
        return int(nibbles, 16) if nibbles else 0

    def const_uint(self) -> None:
        nibbles = self.hex_nibbles()
        stripped = nibbles.lstrip("0")
        if len(stripped) > 16:
            self.print("0x" + nibbles)
        else:
            self.print(str(int(stripped, 16) if stripped else 0))

    def const_str(self) -> None:
        nibbles = self.hex_nibbles()
        if len(nibbles) % 2:
            raise _Invalid("odd string length")
        try:
            text = bytes.fromhex(nibbles).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Invalid("bad string constant") from exc
        self.print(_quote('"', text))


def _quote(quote: str, text: str) -> str:
    """Quote like Rust's escape_debug (the other kind of quote is left alone)."""
    out = [quote]
    for c in text:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in "'\"":
            out.append(c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif not c.isprintable():
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    out.append(quote)
    return "".join(out)


def demangle_rust_v0(name: str) -> Optional[str]:
    """Demangle a Rust v0 symbol (``_R…``); None if it is not a valid one."""
    if name.startswith("__R"):
        inner = name[3:]
    elif name.startswith("_R"):
        inner = name[2:]
    else:
        return None
    # A suffix added after mangling (".llvm.1234", ".cold") is not part of it.
    suffix = ""
    dot = inner.find(".")
    if dot >= 0:
        inner, suffix = inner[:dot], inner[dot:]
        if _LLVM_SUFFIX.match(suffix):
            suffix = ""
    if not inner or not inner.isascii() or not inner[0].isupper():
        # A leading digit is an encoding version we do not know.
        return None
    printer = _V0Printer(inner)
    try:
        printer.path(True)
        if printer.peek().isupper():
            # The instantiating crate: parsed to validate, never printed.
            printer.skip(lambda: printer.path(False))
    except (_Invalid, RecursionError):
        return None
    if printer.pos != len(inner) or printer.out is None:
        return None
    return "".join(printer.out) + suffix
