"""`TupleRecord`: named tuples declared like `typing.NamedTuple`, without importing typing."""
from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import pytest

from pystack.records import TupleRecord


class Point(TupleRecord):
    """A point, with an optional label."""

    x: int
    y: int
    label: str = ""
    weight: float = 1.0

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> "Point":
        return self._replace(x=self.x + dx)


class Pair(TupleRecord):
    first: object
    second: object


class NamedPoint(Point):
    """A subclass that only adds behaviour."""

    def describe(self) -> str:
        return f"{self.label}@{self.x},{self.y}"


def test_construction_by_position_and_keyword():
    assert Point(1, 2) == (1, 2, "", 1.0)
    assert Point(1, 2, "a", 3.0) == (1, 2, "a", 3.0)
    assert Point(y=2, x=1) == (1, 2, "", 1.0)
    assert Point(1, y=2, weight=0.5) == (1, 2, "", 0.5)


def test_fields_are_read_only_attributes():
    p = Point(1, 2, "a")
    assert (p.x, p.y, p.label, p.weight) == (1, 2, "a", 1.0)
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]
    assert p.x == 1


def test_defaults_and_metadata():
    assert Point._fields == ("x", "y", "label", "weight")
    assert Point._field_defaults == {"label": "", "weight": 1.0}
    assert Pair._fields == ("first", "second")
    assert Pair._field_defaults == {}
    assert Point.__match_args__ == Point._fields
    # The class attribute is the accessor now, not the default.
    assert Point(1, 2, "z").label == "z"


@pytest.mark.parametrize("make", [
    lambda: Point(),
    lambda: Point(1),
    lambda: Point(1, 2, "a", 1.0, "extra"),
    lambda: Point(1, 2, x=3),
    lambda: Point(1, 2, colour="red"),
])
def test_bad_arguments_raise_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_declaration_errors():
    with pytest.raises(TypeError):
        class _Bad(TupleRecord):  # a field without a default after one with
            a: int = 0
            b: int
    with pytest.raises(ValueError):
        class _Underscore(TupleRecord):
            _a: int
    with pytest.raises(TypeError):
        class _More(Point):  # fields cannot be added to a record
            z: int = 0


def test_replace_and_asdict_and_make():
    p = Point(1, 2, "a")
    q = p._replace(y=5, label="b")
    assert q == Point(1, 5, "b") and type(q) is Point
    assert p == Point(1, 2, "a")  # unchanged
    with pytest.raises(TypeError):
        p._replace(z=1)
    assert p._asdict() == {"x": 1, "y": 2, "label": "a", "weight": 1.0}
    assert Point._make([1, 2, "c", 2.0]) == Point(1, 2, "c", 2.0)
    with pytest.raises(TypeError):
        Point._make([1, 2])


def test_repr_like_namedtuple():
    assert repr(Point(1, 2)) == "Point(x=1, y=2, label='', weight=1.0)"
    assert repr(Pair("a", None)) == "Pair(first='a', second=None)"
    assert repr(NamedPoint(1, 2)) == "NamedPoint(x=1, y=2, label='', weight=1.0)"


def test_instances_are_real_tuples():
    p = Point(1, 2, "a")
    assert isinstance(p, tuple)
    x, y, label, weight = p
    assert (x, y, label, weight) == (1, 2, "a", 1.0)
    assert p[0] == 1 and p[-1] == 1.0 and p[1:3] == (2, "a")
    assert len(p) == 4 and list(p) == [1, 2, "a", 1.0]
    assert p + (5,) == (1, 2, "a", 1.0, 5)
    assert max(Point(1, 2), Point(1, 3)) == Point(1, 3)  # ordering is tuple's


def test_equality_and_hashing_are_tuples():
    assert Point(1, 2) == Point(1, 2) == (1, 2, "", 1.0)
    assert Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2)) == hash((1, 2, "", 1.0))
    assert {Point(1, 2): "a"}[Point(1, 2)] == "a"
    assert len({Point(1, 2), Point(1, 2), Point(1, 3)}) == 2
    assert Pair(1, 2) == Point(1, 2)[:2]


def test_subclass_methods_properties_and_docstrings():
    p = Point(-3, 4)
    assert p.norm1 == 7
    assert p.moved(2) == Point(-1, 4)
    assert Point.__doc__ == "A point, with an optional label."
    n = NamedPoint(1, 2, "n")
    assert n.describe() == "n@1,2" and n.norm1 == 3
    assert NamedPoint._fields == Point._fields
    assert type(n._replace(x=5)) is NamedPoint
    assert NamedPoint(x=1, y=2) == Point(1, 2)


def test_pickle_and_copy():
    p = Point(1, 2, "a", [3])  # a mutable value shows whether deepcopy copies
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(p, protocol))
        assert back == p and type(back) is Point
    assert copy.copy(p) == p and type(copy.copy(p)) is Point
    deep = copy.deepcopy(p)
    assert deep == p and type(deep) is Point and deep.weight is not p.weight


def test_the_records_of_the_package_are_tuple_records():
    from pystack.cpython.linetable import Location
    from pystack.types import LocationInfo

    assert Location(1, 2, 3, 4).end_column == 4
    assert LocationInfo(1, 2, 3, 4)._fields == ("lineno", "end_lineno", "column", "end_column")
    assert issubclass(LocationInfo, TupleRecord)


def test_importing_the_package_imports_no_typing():
    # -S: a site-packages .pth file may import typing itself; collections and enum stay
    # (enum, which pystack.types uses, imports functools, which imports collections).
    code = ("import sys, pystack.engine, pystack.target.live, pystack.target.core, "
            "pystack.render.text, pystack.render.core_header, pystack.records; "
            "print(sorted({'typing', 're', 'decimal'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.stdout.strip() == "[]", out.stdout
