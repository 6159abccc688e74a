"""`@record` and `TupleRecord`: the parts of `@dataclass` and `typing.NamedTuple` we
use, without importing `dataclasses` or `typing`.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`...): about
10 ms, a sizeable share of a whole dump that is meant to cost about two interpreter
starts; `typing` (with `collections` and `re`) costs about 5 ms more. A record gets
`__init__` (fields in annotation order, defaults from the class body or `field()`),
`__repr__`, `__eq__` and, when frozen, immutability and `__hash__`. A `TupleRecord`
subclass is a named tuple, built from its annotations like a `typing.NamedTuple`.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Callable, Optional

_MISSING = object()


class _Field:
    __slots__ = ("default", "default_factory", "repr", "compare")

    def __init__(self, default: Any, default_factory: Optional[Callable[[], Any]],
                 repr: bool, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(*, default: Any = _MISSING, default_factory: Optional[Callable[[], Any]] = None,
          repr: bool = True, compare: bool = True) -> Any:
    return _Field(default, default_factory, repr, compare)


def _fields_of(cls: type) -> list:
    names: list = []
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if name not in names and not name.startswith("__"):
                names.append(name)
    return names


def _compiled_on_first_call(cls: type, name: str, compile_it: Callable[[], Any]) -> Any:
    """A stand-in for a generated method that compiles it when first called.

    compile() is what makes building a record class cost (~0.15 ms each, a tenth of
    all import time at start-up), and a dump creates instances of only a few of the
    classes it imports: the others never pay.
    """
    def first_call(*args: Any, **kwargs: Any) -> Any:
        method = compile_it()
        setattr(cls, name, staticmethod(method) if name == "__new__" else method)
        return method(*args, **kwargs)
    first_call.__qualname__ = f"{cls.__qualname__}.{name}"
    return staticmethod(first_call) if name == "__new__" else first_call


def record(cls: Optional[type] = None, *, frozen: bool = False):
    def build(cls: type) -> type:
        names = _fields_of(cls)
        defaults: dict = {}
        factories: dict = {}
        shown = []
        compared = []
        for name in names:
            value = cls.__dict__.get(name, _MISSING)
            show = compare = True
            if isinstance(value, _Field):
                show, compare = value.repr, value.compare
                if value.default_factory is not None:
                    factories[name] = value.default_factory
                    value = _MISSING
                else:
                    value = value.default
                if value is _MISSING:
                    try:
                        delattr(cls, name)
                    except AttributeError:
                        pass
                else:
                    setattr(cls, name, value)
            if value is not _MISSING:
                defaults[name] = value
            if show:
                shown.append(name)
            if compare:
                compared.append(name)
        params = []
        for name in names:
            if name in factories:
                params.append(f"{name}=_MISSING")
            elif name in defaults:
                params.append(f"{name}=_d_{name}")
            else:
                if params and "=" in params[-1]:
                    raise TypeError(f"{cls.__name__}: {name} without a default after "
                                    "fields with defaults")
                params.append(name)
        setter = "object.__setattr__(self, {0!r}, {1})" if frozen else "self.{0} = {1}"
        body = []
        for name in names:
            value = (f"_f_{name}() if {name} is _MISSING else {name}"
                     if name in factories else name)
            body.append("    " + setter.format(name, value))
        source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
        namespace: dict = {"_MISSING": _MISSING}
        namespace.update({f"_d_{n}": v for n, v in defaults.items()})
        namespace.update({f"_f_{n}": f for n, f in factories.items()})

        def compiled_init() -> Callable[..., None]:
            exec(source, namespace)
            return namespace["__init__"]

        cls.__init__ = _compiled_on_first_call(cls, "__init__", compiled_init)
        cls.__record_fields__ = tuple(names)

        def __repr__(self) -> str:
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
            return f"{type(self).__qualname__}({inner})"

        def __eq__(self, other: object) -> bool:
            if type(other) is not type(self):
                return NotImplemented
            return all(getattr(self, n) == getattr(other, n) for n in compared)

        cls.__repr__ = __repr__
        cls.__eq__ = __eq__
        if frozen:
            def __setattr__(self, name: str, value: Any) -> None:
                raise AttributeError(f"{type(self).__name__} is frozen")

            def __hash__(self) -> int:
                return hash(tuple(getattr(self, n) for n in compared))
            cls.__setattr__ = __setattr__
            cls.__hash__ = __hash__
        else:
            cls.__hash__ = None  # mutable and comparable: unhashable, like a dataclass
        return cls

    return build(cls) if cls is not None else build


def replace(obj: Any, **changes: Any) -> Any:
    values = {n: getattr(obj, n) for n in obj.__record_fields__}
    values.update(changes)
    return type(obj)(**values)


try:  # the C field accessor namedtuple uses; `_collections` is built in, unlike `collections`
    from _collections import _tuplegetter
except ImportError:  # pragma: no cover - other implementations
    from operator import itemgetter as _itemgetter

    def _tuplegetter(index: int, doc: Optional[str]) -> Any:
        return property(_itemgetter(index), doc=doc)


class _TupleRecord(tuple):
    """Base of named tuples declared like a `typing.NamedTuple`::

        class Region(TupleRecord):
            start: int
            data: bytes
            label: str = ""

    Fields are the subclass's own annotations, in order, with the class-level values as
    defaults. Instances are real tuples (unpacking, indexing, equality and hashing are
    tuple's) with the namedtuple API: construction by position or keyword, read-only
    field attributes, `_fields`, `_field_defaults`, `_make`, `_replace`, `_asdict`, a
    `Name(a=1, b=2)` repr, pickling and copying. Methods, properties and docstrings of
    the subclass are kept. A subclass of a record class may add methods, not fields.
    (Unlike a namedtuple, an instance can hold a `__dict__` unless the class declares
    `__slots__ = ()`; nothing needs that.)
    """

    __slots__ = ()
    _fields: tuple = ()
    _field_defaults: dict = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = tuple(vars(cls).get("__annotations__", {}))
        if not names:
            return  # methods only: keeps the parent's fields and constructor
        if cls._fields:
            raise TypeError(f"{cls.__name__}: a subclass of a record cannot add fields")
        defaults = {}
        for name in names:
            if name.startswith("_"):
                raise ValueError(f"{cls.__name__}: field names cannot start with an "
                                 f"underscore: {name!r}")
            if name in vars(cls):
                defaults[name] = vars(cls)[name]
            elif defaults:
                raise TypeError(f"{cls.__name__}: field {name} without a default after "
                                "fields with defaults")
        args = ", ".join(names)

        def compiled_new() -> Callable[..., Any]:
            namespace = {"_new": tuple.__new__}
            # The way namedtuple builds it: a real signature, so missing, extra and
            # duplicate arguments fail as they would for any function.
            exec(f"def __new__(_cls, {args}):\n    return _new(_cls, ({args},))", namespace)
            new = namespace["__new__"]
            new.__defaults__ = tuple(defaults.values()) or None
            new.__qualname__ = f"{cls.__qualname__}.__new__"
            new.__doc__ = f"Create new instance of {cls.__name__}({args})"
            return new

        cls.__new__ = _compiled_on_first_call(cls, "__new__", compiled_new)
        for index, name in enumerate(names):
            setattr(cls, name, _tuplegetter(index, f"Alias for field number {index}"))
        cls._fields = names
        cls._field_defaults = defaults
        cls.__match_args__ = names

    @classmethod
    def _make(cls, iterable: Any) -> Any:
        result = tuple.__new__(cls, iterable)
        if len(result) != len(cls._fields):
            raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
        return result

    def _replace(self, /, **changes: Any) -> Any:
        result = self._make(map(changes.pop, self._fields, self))
        if changes:
            raise TypeError(f"Got unexpected field names: {list(changes)!r}")
        return result

    def _asdict(self) -> dict:
        return dict(zip(self._fields, self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({inner})"

    def __getnewargs__(self) -> tuple:
        return tuple(self)


if TYPE_CHECKING:  # type checkers know what a NamedTuple subclass is
    from typing import NamedTuple as TupleRecord
else:
    TupleRecord = _TupleRecord
