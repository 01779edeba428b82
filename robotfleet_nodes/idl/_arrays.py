"""Numeric sequences as :class:`array.array`: typecodes, conversion and the pydantic schema.

Sequences (``T[]`` and ``T[<=N]``) of the numeric primitives ``int8`` .. ``uint64`` (but
``uint8``, which is ``bytes``), ``float32`` and ``float64`` are stored as an ``array.array``
with rclpy's typecode (:data:`TYPECODES`): one C buffer instead of one Python object per
element, so a 4000x4000 ``OccupancyGrid`` is built, encoded and decoded with a handful of
``memcpy`` s. :class:`NumericArray` is the pydantic annotation of such a field:

- Python input: an ``array.array`` of the right typecode is stored as it is (not copied, as
  in rclpy); lists, tuples, other iterables, ``array.array`` s of another typecode and
  ``memoryview`` s of another format are converted element by element in C (range errors and
  ``bool`` / ``float`` / ``str`` elements where integers belong are validation errors naming
  the first bad element); ``bytes``, ``bytearray`` and byte ``memoryview`` s are the raw
  native-endian memory of the elements (as ``array.array(code, data)`` takes them); 1-D numpy
  arrays are converted with one vectorised ``astype`` (checked against the range first).
  ``float32`` values are rounded to float32 (as in rclpy), and a finite value beyond float32's
  range is an error rather than ``inf``.
- JSON: a list of numbers, as before (pydantic-core validates the list, then it becomes an
  array); serialised back as a list (``NaN`` / ``Infinity`` constants unchanged).
- ``model_dump()`` keeps the ``array.array``; ``model_dump(mode="json")`` gives lists.
"""

from __future__ import annotations

import array
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from robotfleet_nodes.idl._spec import INTEGER_RANGES

__all__ = ["TYPECODES", "NumericArray", "numeric_array_of"]


def _int32_code() -> str:
    for code in ("i", "l"):
        if array.array(code).itemsize == 4:
            return code
    raise ImportError("this platform's array module has no 4-byte integer typecode")  # pragma: no cover


#: ``array.array`` typecode of each primitive whose sequences are arrays (rclpy's choice).
TYPECODES: dict[str, str] = {
    "int8": "b",
    "int16": "h",
    "int32": _int32_code(),
    "int64": "q",
    "uint16": "H",
    "uint32": "I",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
_SIZES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint16": 2, "uint32": 4, "uint64": 8}
for _base, _code in TYPECODES.items():
    if array.array(_code).itemsize != _SIZES.get(_base, 4 if _base == "float32" else 8):
        raise ImportError(f"array typecode {_code!r} is not the size of {_base} on this platform")

_FLOAT32_MAX = 3.4028234663852886e38
_INF = math.inf
_SMALL = 64  #: float32 arrays up to this length are checked for overflow without numpy
_RAW_FORMATS = frozenset({"B", "b", "c"})


def numeric_array_of(base: str) -> bool:
    """Whether sequences of primitive ``base`` are stored as ``array.array``."""
    return base in TYPECODES


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class NumericArray:
    """The pydantic annotation (``Annotated[array.array, NumericArray("int8")]``) of a numeric
    sequence of ``base`` elements holding at most ``max_length`` of them."""

    __slots__ = ("base", "code", "coerce", "high", "low", "max_length")

    def __init__(self, base: str, max_length: int | None = None) -> None:
        self.base = base
        self.code = TYPECODES[base]
        self.max_length = max_length
        bounds: tuple[int | None, int | None] = INTEGER_RANGES.get(base, (None, None))
        self.low, self.high = bounds
        self.coerce = self._make_coerce()

    # ------------------------------------------------------------------ pydantic

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        element: core_schema.CoreSchema
        if self.low is None:
            element = core_schema.float_schema(strict=True)
        else:
            element = core_schema.int_schema(strict=True, ge=self.low, le=self.high)
        # The list is validated by pydantic-core; array.array itself converts it (in C).
        to_array = self._from_list if self.code == "f" else functools.partial(array.array, self.code)
        from_json = core_schema.no_info_after_validator_function(
            to_array, core_schema.list_schema(element, max_length=self.max_length)
        )
        return core_schema.json_or_python_schema(
            json_schema=from_json,
            python_schema=core_schema.no_info_plain_validator_function(self.coerce),
            serialization=core_schema.plain_serializer_function_ser_schema(
                self._to_list, return_schema=core_schema.list_schema(element), when_used="json"
            ),
        )

    def _from_list(self, values: list[Any]) -> array.array[Any]:
        return self._check_float32(array.array(self.code, values), values)

    def _to_list(self, value: Any) -> list[Any]:
        if value.__class__ is not array.array or value.typecode != self.code:
            value = self.coerce(value)  # a value assigned without validation
        elif self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"holds at most {self.max_length} elements, got {len(value)}")
        return value.tolist()  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ conversion

    def _make_coerce(self) -> Callable[[Any], array.array[Any]]:
        """The Python-input validator: lists and right-typecode arrays inline (the common, small
        case: one call, no attribute lookups), everything else through :meth:`convert`."""
        code, max_length, convert = self.code, self.max_length, self.convert
        new_array, array_type = array.array, array.array
        float32 = code == "f"  # a finite value beyond float32's range becomes inf in C: checked
        check_float32 = self._check_float32

        def coerce(value: Any) -> array.array[Any]:
            cls = value.__class__
            if cls is array_type and value.typecode == code:
                result: array.array[Any] = value
            elif (cls is list or cls is tuple) and bool not in set(map(type, value)):
                try:
                    result = new_array(code, value)
                except (OverflowError, TypeError, ValueError):
                    return convert(value)  # raises, naming the first bad element
                if float32:
                    result = check_float32(result, value)
            else:
                return convert(value)
            if max_length is not None and len(result) > max_length:
                return convert(value)  # raises
            return result

        return coerce

    def convert(self, value: Any) -> array.array[Any]:
        """``value`` as an ``array.array`` of this field's typecode (see the module docstring);
        raises pydantic's ``PydanticCustomError`` (a ``ValidationError`` for the caller)."""
        if value.__class__ is array.array and value.typecode == self.code:
            result: array.array[Any] = value
        elif isinstance(value, list | tuple | array.array):
            result = self._from_values(value)
        elif isinstance(value, bytes | bytearray | memoryview):
            result = self._from_buffer(value)
        elif hasattr(value, "dtype") and hasattr(value, "astype"):
            result = self._from_numpy(value)
        elif isinstance(value, str | Mapping) or not hasattr(value, "__iter__"):
            raise _error(
                "array_type",
                f"expected a sequence of {self.base} (list, tuple, array.array, numpy array), "
                f"got {type(value).__name__}",
            )
        else:
            result = self._from_values(list(value))
        if self.max_length is not None and len(result) > self.max_length:
            raise _error(
                "too_long", f"holds at most {self.max_length} elements ({self.base}), got {len(result)}"
            )
        return result

    def _from_values(self, values: Any) -> array.array[Any]:
        if not isinstance(values, array.array) and bool in set(map(type, values)):
            self._raise_first_bad(values)
        try:
            result = array.array(self.code, values)
        except (OverflowError, TypeError, ValueError):
            self._raise_first_bad(values)
            raise  # pragma: no cover (_raise_first_bad always raises)
        return self._check_float32(result, values)

    def _check_float32(self, result: array.array[Any], values: Any) -> array.array[Any]:
        """A finite value beyond float32's range became ``inf`` in ``result``: refuse it."""
        if self.code != "f" or (isinstance(values, array.array) and values.typecode == "f") or not result:
            return result
        if len(result) <= _SMALL:  # comparing in C beats numpy's call overhead here
            if _INF not in result and -_INF not in result:
                return result
        else:
            import numpy as np

            if not np.isinf(np.frombuffer(result, dtype=np.float32)).any():
                return result
        for index, (got, given) in enumerate(zip(result, values, strict=False)):
            if math.isinf(got) and math.isfinite(given):
                raise _error(
                    "float32_range",
                    f"element {index} ({given!r}) is beyond float32's range (+-{_FLOAT32_MAX:.7g})",
                )
        return result

    def _raise_first_bad(self, values: Any) -> None:
        integer = self.low is not None
        for index, item in enumerate(values):
            wrong = not isinstance(item, int | float) or (integer and isinstance(item, float))
            if wrong or isinstance(item, bool):
                want = "an integer" if integer else "a number"
                raise _error(
                    "array_item_type",
                    f"element {index} ({item!r}, {type(item).__name__}) should be {want} ({self.base})",
                )
            if integer and not self.low <= item <= self.high:  # type: ignore[operator,unused-ignore]
                raise _error(
                    "array_item_range",
                    f"element {index} ({item!r}) is out of range for {self.base} ({self.low}..{self.high})",
                )
        try:  # not found above: report what array.array said
            array.array(self.code, values)
        except (OverflowError, TypeError, ValueError) as exc:
            raise _error("array_item_type", f"not a sequence of {self.base}: {exc}") from None
        raise _error("array_item_type", f"not a sequence of {self.base}")  # pragma: no cover

    def _from_buffer(self, value: bytes | bytearray | memoryview) -> array.array[Any]:
        if isinstance(value, memoryview):
            if value.ndim != 1:
                raise _error("array_type", f"expected a 1-D memoryview, got {value.ndim} dimensions")
            fmt = value.format.lstrip("@=")
            if fmt not in _RAW_FORMATS and fmt != self.code:
                return self._from_values(value.tolist())
            value = value.cast("B") if value.c_contiguous else memoryview(value.tobytes())
        result = array.array(self.code)
        if value.nbytes % result.itemsize if isinstance(value, memoryview) else len(value) % result.itemsize:
            raise _error(
                "array_bytes",
                f"raw data for {self.base} elements must be a multiple of {result.itemsize} bytes, "
                f"got {value.nbytes if isinstance(value, memoryview) else len(value)}",
            )
        result.frombytes(value)
        return result

    def _from_numpy(self, value: Any) -> array.array[Any]:
        import numpy as np

        if value.ndim != 1:
            raise _error(
                "array_type",
                f"expected a 1-D numpy array, got shape {value.shape} (flatten it with .ravel())",
            )
        kind = value.dtype.kind
        target = np.dtype(self.code)
        if self.low is not None:
            if kind not in "iu":
                raise _error(
                    "array_item_type", f"expected integers ({self.base}), got a numpy {value.dtype} array"
                )
            if value.size and not np.can_cast(value.dtype, target):
                bad = np.flatnonzero((value < self.low) | (value > self.high))
                if bad.size:
                    index = int(bad[0])
                    raise _error(
                        "array_item_range",
                        f"element {index} ({value[index].item()!r}) is out of range for {self.base} "
                        f"({self.low}..{self.high})",
                    )
        elif kind not in "iuf":
            raise _error(
                "array_item_type", f"expected numbers ({self.base}), got a numpy {value.dtype} array"
            )
        with np.errstate(over="ignore", invalid="ignore"):  # float64 -> float32 overflow: checked below
            converted = np.ascontiguousarray(value.astype(target, copy=False))
        if self.code == "f" and kind == "f" and value.dtype.itemsize > 4 and value.size:
            bad = np.flatnonzero(np.isinf(converted) & np.isfinite(value))
            if bad.size:
                index = int(bad[0])
                raise _error(
                    "float32_range",
                    f"element {index} ({value[index].item()!r}) is beyond float32's range "
                    f"(+-{_FLOAT32_MAX:.7g})",
                )
        result = array.array(self.code)
        result.frombytes(converted.view(np.uint8).data)  # frombytes wants a plain byte buffer
        return result
