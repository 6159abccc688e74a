"""`@record`: the part of `@dataclass` we use, without importing `dataclasses`.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`...): about
10 ms, a sizeable share of a whole dump that is meant to cost about two interpreter
starts. A record gets `__init__` (fields in annotation order, defaults from the class
body or `field()`), `__repr__`, `__eq__` and, when frozen, immutability and `__hash__`.
"""
from __future__ import annotations

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
        exec(source, namespace)
        cls.__init__ = namespace["__init__"]
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
