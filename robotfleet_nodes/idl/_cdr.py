"""CDR (XCDR1, as ROS 2 uses it) encoding, compiled per message type into Python code.

Layout rules: a 4-byte encapsulation header (``00 01 00 00`` little-endian, ``00 00 00 00``
big-endian) then the fields in order; every primitive is aligned to its size relative to the
end of the header; ``bool`` is one byte; a string is a ``uint32`` length counting the
terminating NUL, the UTF-8 bytes and the NUL; a sequence is a ``uint32`` count then its
elements; fixed arrays have no count; nested messages are inlined and have no alignment of
their own. Alignment is applied only when something is written (an empty ``float64[]`` is
not padded to 8), exactly as rosbags does: our bytes are identical to rosbags'
``serialize_cdr``.

``wstring`` is a ``uint32`` count of UTF-16 code units followed by the units, without a
terminator (as rmw_cyclonedds_cpp writes it). rosbags cannot serialise ``wstring`` at all, so
there is no byte-for-byte reference for it, and RMWs disagree (rmw_fastrtps with Fast-CDR 1
writes 4-byte wide characters): avoid ``wstring`` in messages that must cross to ROS 2.

:func:`compile_codec` turns a :class:`MessageSpec` into the source of one encoder and one
decoder function (nested types inlined, runs of fixed-layout primitives merged into a single
precompiled :class:`struct.Struct`) and ``exec``s it once; :class:`CdrCodec` holds the result.

Numeric sequences (``idl/_arrays.py``) are ``array.array`` s: encoding appends the array's
memory (values of another kind, e.g. a list assigned without validation, are packed with
``struct`` as before, so the bytes are the same), decoding is one ``frombytes`` of the slice
(and a ``byteswap`` for big-endian data): O(1) Python operations whatever the length.
"""

from __future__ import annotations

import array
import logging
import struct
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from robotfleet_nodes.errors import DecodeError, EncodeError
from robotfleet_nodes.idl._arrays import TYPECODES
from robotfleet_nodes.idl._spec import ArrayKind, FieldType, MessageSpec, python_name

__all__ = ["CdrCodec", "compile_codec"]

_log = logging.getLogger(__name__)

Resolve = Callable[[str], MessageSpec]
ClassOf = Callable[[str], type]

#: struct format character and size of each fixed-size primitive.
_PRIMS: dict[str, tuple[str, int]] = {
    "bool": ("?", 1),
    "byte": ("B", 1),
    "char": ("B", 1),
    "int8": ("b", 1),
    "uint8": ("B", 1),
    "int16": ("h", 2),
    "uint16": ("H", 2),
    "int32": ("i", 4),
    "uint32": ("I", 4),
    "int64": ("q", 8),
    "uint64": ("Q", 8),
    "float32": ("f", 4),
    "float64": ("d", 8),
}
_STRINGS = frozenset({"string", "wstring"})
_BYTES = frozenset({"uint8", "byte"})  # arrays of these are ``bytes`` on the Python side

HEADER_LE = b"\x00\x01\x00\x00"
HEADER_BE = b"\x00\x00\x00\x00"

_ZERO_PADS = tuple(bytes(n) for n in range(8))
_NATIVE = "<" if sys.byteorder == "little" else ">"


def _swapped(values: array.array[Any]) -> array.array[Any]:
    """A byte-swapped copy of ``values`` (little-endian CDR written on a big-endian host)."""
    copy = array.array(values.typecode, values)
    copy.byteswap()
    return copy


class CdrCodec:
    """The compiled CDR encoder and decoder of one message type.

    ``encode(msg) -> bytes`` returns little-endian CDR with its encapsulation header and
    raises :class:`EncodeError` when a value does not fit its type. ``decode(data)`` accepts
    little- and big-endian CDR and raises :class:`DecodeError` on any malformed input.
    """

    __slots__ = ("_be", "_class_of", "_resolve", "_spec", "decode_le", "encode", "type_name")

    encode: Callable[[Any], bytes]
    decode_le: Callable[[bytes], Any]

    def __init__(self, spec: MessageSpec, resolve: Resolve, class_of: ClassOf) -> None:
        self.type_name = spec.full_name
        self._spec = spec
        self._resolve = resolve
        self._class_of = class_of
        self._be: Callable[[bytes], Any] | None = None
        self.encode = _compile_encoder(spec, resolve)
        self.decode_le = _compile_decoder(spec, resolve, class_of, "<")

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        """Decode one CDR message (with its 4-byte encapsulation header)."""
        if data.__class__ is not bytes:
            data = bytes(data)
        if data[:2] == b"\x00\x01":
            return self.decode_le(data)
        if data[:2] == b"\x00\x00" and len(data) >= 4:
            if self._be is None:
                self._be = _compile_decoder(self._spec, self._resolve, self._class_of, ">")
            return self._be(data)
        if len(data) < 4:
            raise DecodeError(
                f"cannot decode {self.type_name}: {len(data)} bytes is shorter than a CDR header"
            )
        raise DecodeError(
            f"cannot decode {self.type_name}: encapsulation header {bytes(data[:4]).hex(' ')} is not "
            "plain CDR (expected 00 01 00 00 or 00 00 00 00)"
        )


def compile_codec(spec: MessageSpec, resolve: Resolve, class_of: ClassOf) -> CdrCodec:
    """Compile the CDR codec of ``spec``.

    ``resolve`` maps the full name of each nested type to its spec; ``class_of`` maps a full
    name to the Python class decoded values are built as (pydantic models are built without
    validation: decoded values are already checked against the type).
    """
    return CdrCodec(spec, resolve, class_of)


# --------------------------------------------------------------------------- generation


class _Gen:
    """Shared state of one generated function: source lines, constants, alignment."""

    def __init__(self, resolve: Resolve, endian: str) -> None:
        self.resolve = resolve
        self.endian = endian
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "EncodeError": EncodeError,
            "DecodeError": DecodeError,
            "ZP": _ZERO_PADS,
            "struct_error": struct.error,
            "pack": struct.pack,
            "unpack_from": struct.unpack_from,
            "ARR": array.array,
            "SWAPPED": _swapped,
        }
        self.indent = 1
        self.counter = 0
        # Position (relative to the end of the header) is known to be ``r`` modulo ``a``.
        self.a = 8
        self.r = 0
        self.fmt = ""

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def var(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any, prefix: str) -> str:
        name = self.var(prefix)
        self.ns[name] = value
        return name

    def struct(self, fmt: str) -> str:
        return self.const(struct.Struct(self.endian + fmt), "S")

    def unknown(self) -> None:
        self.a, self.r = 1, 0

    def static_pad(self, size: int) -> int | None:
        """Padding before a ``size``-aligned item if known at compile time, else None."""
        if size == 1:
            return 0
        if self.a >= size:
            return -self.r % size
        return None

    def advance(self, pad: int, nbytes: int) -> None:
        self.r = (self.r + pad + nbytes) % self.a

    def aligned_to(self, size: int) -> None:
        """After a run-time alignment to ``size``."""
        self.a, self.r = size, 0

    def compile(self, name: str, source_name: str) -> Any:
        source = "\n".join(self.lines)
        code = compile(source, f"<cdr {source_name}>", "exec")
        exec(code, self.ns)
        return self.ns[name]


class _Encoder(_Gen):
    """Generates ``encode(m) -> bytes`` appending to a bytearray ``b``."""

    def __init__(self, resolve: Resolve) -> None:
        super().__init__(resolve, "<")
        self.args: list[str] = []

    def flush(self) -> None:
        if self.fmt:
            self.emit(f"b += {self.struct(self.fmt)}.pack({', '.join(self.args)})")
        self.fmt, self.args = "", []

    def align_dynamic(self, size: int) -> None:
        self.flush()
        self.emit(f"b += ZP[(4 - len(b)) & {size - 1}]")
        self.aligned_to(size)

    def prim(self, char: str, size: int, arg: str, count: int = 1) -> None:
        pad = self.static_pad(size)
        if pad is None:
            self.align_dynamic(size)
            pad = 0
        self.fmt += "x" * pad + (f"{count}{char}" if count != 1 else char)
        self.args.append(arg)
        self.advance(pad, size * count)

    def check_len(self, value: str, ftype: FieldType, what: str) -> None:
        if ftype.array is ArrayKind.FIXED:
            self.emit(f"if len({value}) != {ftype.array_size}:")
            self.emit(
                f"    raise EncodeError(f'{what} must hold exactly {ftype.array_size} elements, "
                f"got {{len({value})}}')"
            )
        elif ftype.array is ArrayKind.BOUNDED:
            self.emit(f"if len({value}) > {ftype.array_size}:")
            self.emit(
                f"    raise EncodeError(f'{what} holds at most {ftype.array_size} elements, "
                f"got {{len({value})}}')"
            )

    def string(self, value: str, ftype: FieldType, what: str) -> None:
        if ftype.string_bound is not None:
            self.emit(f"if len({value}) > {ftype.string_bound}:")
            self.emit(
                f"    raise EncodeError(f'{what} is limited to {ftype.string_bound} characters, "
                f"got {{len({value})}}')"
            )
        raw = self.var("s")
        if ftype.base == "wstring":
            self.emit(f"{raw} = {value}.encode('utf-16-le')")
            self.prim("I", 4, f"len({raw}) >> 1")
            self.flush()
            self.emit(f"b += {raw}")
            self.a, self.r = 2, 0
            return
        self.emit(f"{raw} = {value}.encode()")
        self.prim("I", 4, f"len({raw}) + 1")
        self.flush()
        self.emit(f"b += {raw}")
        self.emit("b.append(0)")
        self.unknown()

    def message(self, spec: MessageSpec, value: str) -> None:
        if not spec.fields:  # ROS gives an empty message one uint8 member
            self.prim("B", 1, "0")
        for f in spec.fields:
            what = f"{spec.full_name}.{f.name}"
            attr = f"{value}.{python_name(f.name)}"
            self.field(f.type, attr, what)

    def element(self, ftype: FieldType, value: str, what: str) -> None:
        """One non-array value."""
        if ftype.base in _STRINGS:
            self.string(value, ftype, what)
        elif ftype.base in _PRIMS:
            char, size = _PRIMS[ftype.base]
            self.prim(char, size, value)
        else:
            local = self.var()
            self.emit(f"{local} = {value}")
            self.message(self.resolve(ftype.base), local)

    def field(self, ftype: FieldType, value: str, what: str) -> None:
        if not ftype.is_array:
            self.element(ftype, value, what)
            return
        seq = self.var()
        self.emit(f"{seq} = {value}")
        self.check_len(seq, ftype, what)
        base = ftype.base
        fixed = ftype.array is ArrayKind.FIXED
        if base in _BYTES:
            self.emit(f"if {seq}.__class__ is not bytes:")
            self.emit(f"    {seq} = bytes({seq})")
        if fixed and base in _PRIMS:
            char, size = _PRIMS[base]
            if base in _BYTES:
                self.prim("s", 1, seq, ftype.array_size or 0)
            else:
                self.prim(char, size, "*" + seq, ftype.array_size or 0)
            return
        if not fixed:
            count = self.var("n")
            self.emit(f"{count} = len({seq})")
            self.prim("I", 4, count)
            if base in _PRIMS:
                self.flush()
                char, size = _PRIMS[base]
                if base in _BYTES:
                    self.emit(f"b += {seq}")
                else:
                    self.emit(f"if {count}:")
                    self.indent += 1
                    if size > 4:  # the count leaves the position 4-aligned
                        self.emit(f"b += ZP[(4 - len(b)) & {size - 1}]")
                    packed = f"pack(f'<{{{count}}}{char}', *{seq})"
                    if base in TYPECODES:  # array.array of the field's typecode: its memory
                        code = TYPECODES[base]
                        self.emit(f"if {seq}.__class__ is ARR and {seq}.typecode == {code!r}:")
                        self.emit(f"    b += {seq}" if _NATIVE == "<" else f"    b += SWAPPED({seq})")
                        self.emit("else:")
                        self.emit(f"    b += {packed}")
                    else:
                        self.emit(f"b += {packed}")
                    self.indent -= 1
                self.a, self.r = (min(size, 4), 0)
                return
        self.flush()
        item = self.var("it")
        self.emit(f"for {item} in {seq}:")
        self.indent += 1
        self.unknown()
        self.element(ftype.element, item, what)
        self.flush()
        self.indent -= 1
        self.unknown()


class _Decoder(_Gen):
    """Generates ``decode(d) -> msg`` reading bytes ``d`` from index ``p``."""

    def __init__(self, resolve: Resolve, class_of: ClassOf, endian: str) -> None:
        super().__init__(resolve, endian)
        self.class_of = class_of
        self.targets: list[tuple[str, int, str]] = []  # (var, count, kind)
        self.nbytes = 0
        self.post: list[str] = []  # object constructions, emitted after the next flush
        self.ns["NEW"] = object.__new__
        self.ns["SA"] = object.__setattr__
        self.ns["bad_string"] = _bad_string
        self.ns["bad_count"] = _bad_count

    def flush(self) -> None:
        if self.fmt:
            s = self.struct(self.fmt)
            if all(count == 1 or kind == "s" for _, count, kind in self.targets):
                names = ", ".join(t[0] for t in self.targets)
                self.emit(f"{names}, = {s}.unpack_from(d, p)")
            else:
                tup = self.var("t")
                self.emit(f"{tup} = {s}.unpack_from(d, p)")
                i = 0
                for name, count, kind in self.targets:
                    if count == 1 or kind == "s":
                        self.emit(f"{name} = {tup}[{i}]")
                        i += 1
                    else:
                        self.emit(f"{name} = list({tup}[{i}:{i + count}])")
                        i += count
            self.emit(f"p += {self.nbytes}")
        self.fmt, self.targets, self.nbytes = "", [], 0

    def flush_all(self) -> None:
        self.flush()
        for line in self.post:
            self.emit(line)
        self.post = []

    def align_dynamic(self, size: int) -> None:
        self.flush()
        self.emit(f"p += (4 - p) & {size - 1}")
        self.aligned_to(size)

    def prim(self, char: str, size: int, count: int = 1, kind: str = "") -> str:
        pad = self.static_pad(size)
        if pad is None:
            self.align_dynamic(size)
            pad = 0
        name = self.var()
        self.fmt += "x" * pad + (f"{count}{char}" if count != 1 else char)
        self.targets.append((name, count, kind))
        self.nbytes += pad + size * count
        self.advance(pad, size * count)
        return name

    def string(self, ftype: FieldType, what: str) -> str:
        length = self.prim("I", 4)
        self.flush()
        end = self.var("e")
        name = self.var()
        if ftype.base == "wstring":
            codec = "utf-16-le" if self.endian == "<" else "utf-16-be"
            self.emit(f"{end} = p + 2 * {length}")
            self.emit(f"if {end} > L:")
            self.emit(f"    bad_string(d, p, 2 * {length}, {what!r})")
            self.emit(f"{name} = d[p:{end}].decode({codec!r})")
            self.emit(f"p = {end}")
        else:
            self.emit(f"{end} = p + {length}")
            self.emit(f"if not {length} or {end} > L or d[{end} - 1]:")
            self.emit(f"    bad_string(d, p, {length}, {what!r})")
            self.emit(f"{name} = d[p:{end} - 1].decode()")
            self.emit(f"p = {end}")
        if ftype.string_bound is not None:
            self.emit(f"if len({name}) > {ftype.string_bound}:")
            self.emit(
                f"    raise DecodeError(f'{what}: string of {{len({name})}} characters exceeds its "
                f"bound {ftype.string_bound}')"
            )
        self.unknown()
        return name

    def message(self, spec: MessageSpec) -> str:
        if not spec.fields:  # ROS gives an empty message one uint8 member
            self.prim("B", 1)
        values = [
            (python_name(f.name), self.field(f.type, f"{spec.full_name}.{f.name}")) for f in spec.fields
        ]
        cls = self.class_of(spec.full_name)
        obj = self.var("o")
        if _fast_constructible(cls):
            c = self.const(cls, "C")
            fields_set = self.const(frozenset(n for n, _ in values), "FS")
            items = ", ".join(f"{n!r}: {v}" for n, v in values)
            self.post += [
                f"{obj} = NEW({c})",
                f"SA({obj}, '__dict__', {{{items}}})",
                f"SA({obj}, '__pydantic_fields_set__', set({fields_set}))",
                f"SA({obj}, '__pydantic_extra__', None)",
                f"SA({obj}, '__pydantic_private__', None)",
            ]
        else:
            c = self.const(getattr(cls, "model_construct", cls), "C")
            items = ", ".join(f"{n}={v}" for n, v in values)
            self.post.append(f"{obj} = {c}({items})")
        return obj

    def element(self, ftype: FieldType, what: str) -> str:
        if ftype.base in _STRINGS:
            return self.string(ftype, what)
        if ftype.base in _PRIMS:
            char, size = _PRIMS[ftype.base]
            return self.prim(char, size)
        return self.message(self.resolve(ftype.base))

    def field(self, ftype: FieldType, what: str) -> str:
        if not ftype.is_array:
            return self.element(ftype, what)
        base = ftype.base
        if ftype.array is ArrayKind.FIXED:
            count_expr = str(ftype.array_size)
            if base in _PRIMS:
                char, size = _PRIMS[base]
                if base in _BYTES:
                    return self.prim("s", 1, ftype.array_size or 0, "s")
                return self.prim(char, size, ftype.array_size or 0, "a")
        else:
            count_expr = self.prim("I", 4)
            self.flush()
            if ftype.array is ArrayKind.BOUNDED:
                self.emit(f"if {count_expr} > {ftype.array_size}:")
                self.emit(
                    f"    raise DecodeError(f'{what}: {{{count_expr}}} elements exceed its bound "
                    f"{ftype.array_size}')"
                )
            if base in _PRIMS:
                char, size = _PRIMS[base]
                name = self.var()
                self.emit(f"if {count_expr} * {size} > L - p:")
                self.emit(f"    bad_count(p, {count_expr}, {what!r})")
                if base in _BYTES:
                    self.emit(f"{name} = d[p:p + {count_expr}]")
                    self.emit(f"p += {count_expr}")
                else:
                    self.emit(f"if {count_expr}:")
                    if size > 4:
                        self.emit(f"    p += (4 - p) & {size - 1}")
                    if base in TYPECODES:  # one copy of the slice into an array.array
                        code = TYPECODES[base]
                        end = self.var("e")
                        self.emit(f"    {end} = p + {count_expr} * {size}")
                        self.emit(f"    if {end} > L:")
                        self.emit(f"        bad_count(p, {count_expr}, {what!r})")
                        self.emit(f"    {name} = ARR({code!r}, d[p:{end}])")  # frombytes of the slice
                        if self.endian != _NATIVE:
                            self.emit(f"    {name}.byteswap()")
                        self.emit(f"    p = {end}")
                        self.emit("else:")
                        self.emit(f"    {name} = ARR({code!r})")
                    else:
                        fmt = f"f'{self.endian}{{{count_expr}}}{char}'"
                        self.emit(f"    {name} = list(unpack_from({fmt}, d, p))")
                        self.emit(f"    p += {count_expr} * {size}")
                        self.emit("else:")
                        self.emit(f"    {name} = []")
                self.a, self.r = (min(size, 4), 0)
                return name
            self.emit(f"if {count_expr} > L - p:")
            self.emit(f"    bad_count(p, {count_expr}, {what!r})")
        self.flush()
        name = self.var()
        self.emit(f"{name} = []")
        self.emit(f"for _ in range({count_expr}):")
        self.indent += 1
        outer_post, self.post = self.post, []
        self.unknown()
        item = self.element(ftype.element, what)
        self.flush_all()
        self.emit(f"{name}.append({item})")
        self.post = outer_post
        self.indent -= 1
        self.unknown()
        return name


def _fast_constructible(cls: type) -> bool:
    """Whether instances can be built by setting pydantic's four slots directly."""
    return (
        isinstance(cls, type)
        and issubclass(cls, BaseModel)
        and not cls.__private_attributes__
        and cls.__pydantic_post_init__ is None
        and cls.model_config.get("extra") != "allow"
        and not getattr(cls, "__pydantic_root_model__", False)
    )


def _bad_string(d: bytes, p: int, length: int, what: str) -> None:
    if length == 0:
        raise DecodeError(f"{what}: string length 0 at offset {p - 4} (CDR strings count their NUL)")
    if p + length > len(d):
        raise DecodeError(
            f"{what}: string of {length} bytes at offset {p - 4} runs past the end of the data "
            f"({len(d) - p} bytes left)"
        )
    raise DecodeError(f"{what}: string at offset {p - 4} is not NUL-terminated")


def _bad_count(p: int, count: int, what: str) -> None:
    raise DecodeError(f"{what}: sequence length {count} at offset {p - 4} exceeds the remaining data")


def _compile_encoder(spec: MessageSpec, resolve: Resolve) -> Callable[[Any], bytes]:
    gen = _Encoder(resolve)
    gen.message(spec, "m")
    gen.flush()
    body = gen.lines
    gen.lines = [
        "def encode(m):",
        f"    b = bytearray({HEADER_LE!r})",
        "    try:",
        *("    " + line for line in body),
        "    except EncodeError:",
        "        raise",
        "    except (struct_error, OverflowError, TypeError, ValueError, AttributeError,"
        " UnicodeEncodeError) as exc:",
        f"        raise EncodeError(f'cannot encode {spec.full_name}: {{exc}}') from exc",
        "    return bytes(b)",
    ]
    fn: Callable[[Any], bytes] = gen.compile("encode", spec.full_name)
    _log.debug("compiled CDR encoder for %s (%d lines)", spec.full_name, len(gen.lines))
    return fn


def _compile_decoder(
    spec: MessageSpec, resolve: Resolve, class_of: ClassOf, endian: str
) -> Callable[[bytes], Any]:
    gen = _Decoder(resolve, class_of, endian)
    result = gen.message(spec)
    gen.flush_all()
    body = gen.lines
    gen.lines = [
        "def decode(d):",
        "    L = len(d)",
        "    p = 4",
        "    try:",
        *("    " + line for line in body),
        "    except struct_error as exc:",
        f"        raise DecodeError(f'cannot decode {spec.full_name}: data truncated ({{L}} bytes): "
        "{exc}') from None",
        "    except UnicodeDecodeError as exc:",
        f"        raise DecodeError(f'cannot decode {spec.full_name}: invalid UTF-8/UTF-16 in a string: "
        "{exc}') from None",
        f"    return {result}",
    ]
    fn: Callable[[bytes], Any] = gen.compile("decode", spec.full_name)
    _log.debug("compiled CDR decoder for %s (%d lines)", spec.full_name, len(gen.lines))
    return fn
