"""Tiny Prometheus metrics: ``Counter``, ``Gauge``, ``Histogram`` and text format 0.0.4.

Metrics are updated from the event loop thread (no locking). Example::

    registry = Registry()
    requests = registry.counter("http_requests_total", "HTTP requests.", ["method", "status"])
    requests.labels(method="GET", status="200").inc()
    text = registry.render()
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from ._response import Response

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_BUCKETS",
    "Counter",
    "Gauge",
    "Histogram",
    "Metric",
    "Registry",
    "metrics_response",
]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

ChildT = TypeVar("ChildT")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: ``1.0``, ``0.25``, ``+Inf``, ``NaN``; ints as ``3``."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(pairs: Iterable[tuple[str, str]]) -> str:
    body = ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs)
    return f"{{{body}}}" if body else ""


class Metric(Generic[ChildT]):
    """Base of the metric families: a name, help text, label names and per-label children."""

    type_name = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}: use [a-zA-Z_:][a-zA-Z0-9_:]*")
        for label in labelnames:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} on metric {name!r}")
        if len(set(labelnames)) != len(labelnames):
            raise ValueError(f"duplicate label names on metric {name!r}: {list(labelnames)}")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], ChildT] = {}
        if not self.labelnames:
            self._children[()] = self._new_child()

    def _new_child(self) -> ChildT:
        raise NotImplementedError

    def labels(self, *values: str, **kwargs: str) -> ChildT:
        """The child for one label combination, by position or by name."""
        if values and kwargs:
            raise ValueError("pass label values either by position or by name, not both")
        if kwargs:
            if set(kwargs) != set(self.labelnames):
                raise ValueError(
                    f"metric {self.name!r} takes labels {list(self.labelnames)}, got {sorted(kwargs)}"
                )
            values = tuple(kwargs[name] for name in self.labelnames)
        if not self.labelnames or len(values) != len(self.labelnames):
            raise ValueError(
                f"metric {self.name!r} takes labels {list(self.labelnames)}, got {len(values)} values"
            )
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def _unlabelled(self) -> ChildT:
        if self.labelnames:
            raise ValueError(f"metric {self.name!r} has labels {list(self.labelnames)}; use .labels(...)")
        return self._children[()]

    def _samples(self, labels: tuple[str, ...], child: ChildT) -> Iterable[tuple[str, str, float]]:
        raise NotImplementedError

    def render(self) -> str:
        """This family in text format 0.0.4 (HELP, TYPE and one line per sample)."""
        out = [
            f"# HELP {self.name} {_escape_help(self.documentation)}",
            f"# TYPE {self.name} {self.type_name}",
        ]
        for key, child in sorted(self._children.items()):
            for suffix, extra, value in self._samples(key, child):
                pairs = list(zip(self.labelnames, key, strict=True))
                if extra:
                    pairs.append(("le", extra))
                out.append(f"{self.name}{suffix}{_labels_text(pairs)} {format_value(value)}")
        return "\n".join(out) + "\n"


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0


class CounterChild(_Value):
    """One label combination of a :class:`Counter`."""

    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0)."""
        if amount < 0:
            raise ValueError(f"counters only go up; got inc({amount})")
        self.value += amount


class GaugeChild(_Value):
    """One label combination of a :class:`Gauge`."""

    __slots__ = ()

    def set(self, value: float) -> None:
        """Set the gauge to ``value``."""
        self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount``."""
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount``."""
        self.value -= amount


class HistogramChild:
    """One label combination of a :class:`Histogram`."""

    __slots__ = ("bucket_counts", "count", "sum", "upper_bounds")

    def __init__(self, upper_bounds: tuple[float, ...]) -> None:
        self.upper_bounds = upper_bounds
        self.bucket_counts = [0] * len(upper_bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one observation."""
        index = bisect.bisect_left(self.upper_bounds, value)
        if index < len(self.bucket_counts):
            self.bucket_counts[index] += 1
        self.sum += value
        self.count += 1


class Counter(Metric[CounterChild]):
    """A monotonically increasing value, e.g. ``http_requests_total``."""

    type_name = "counter"

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` to the unlabelled counter."""
        self._unlabelled().inc(amount)

    def _samples(self, labels: tuple[str, ...], child: CounterChild) -> Iterable[tuple[str, str, float]]:
        yield "", "", child.value


class Gauge(Metric[GaugeChild]):
    """A value that goes up and down, e.g. ``robots_online``."""

    type_name = "gauge"

    def _new_child(self) -> GaugeChild:
        return GaugeChild()

    def set(self, value: float) -> None:
        """Set the unlabelled gauge."""
        self._unlabelled().set(value)

    def inc(self, amount: float = 1.0) -> None:
        """Add to the unlabelled gauge."""
        self._unlabelled().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from the unlabelled gauge."""
        self._unlabelled().dec(amount)

    def _samples(self, labels: tuple[str, ...], child: GaugeChild) -> Iterable[tuple[str, str, float]]:
        yield "", "", child.value


class Histogram(Metric[HistogramChild]):
    """Observations counted in fixed cumulative buckets, plus ``_sum`` and ``_count``."""

    type_name = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        bounds = tuple(float(b) for b in buckets if not math.isinf(b))
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"histogram {name!r} buckets must be non-empty and strictly increasing")
        if "le" in labelnames:
            raise ValueError(f"histogram {name!r} cannot use the reserved label 'le'")
        self.upper_bounds = bounds
        super().__init__(name, documentation, labelnames)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.upper_bounds)

    def observe(self, value: float) -> None:
        """Record an observation on the unlabelled histogram."""
        self._unlabelled().observe(value)

    def _samples(self, labels: tuple[str, ...], child: HistogramChild) -> Iterable[tuple[str, str, float]]:
        cumulative = 0
        for bound, count in zip(child.upper_bounds, child.bucket_counts, strict=True):
            cumulative += count
            yield "_bucket", format_value(bound), cumulative
        yield "_bucket", "+Inf", child.count
        yield "_sum", "", child.sum
        yield "_count", "", child.count


class Registry:
    """A set of metric families keyed by name; refuses duplicates and renders them all."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric[object]] = {}

    def register(self, metric: Metric[ChildT]) -> Metric[ChildT]:
        """Add ``metric``; raises ``ValueError`` if its name is taken."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self._metrics[metric.name] = metric  # type: ignore[assignment]
        return metric

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        """Create and register a :class:`Counter`."""
        metric = Counter(name, documentation, labelnames)
        self.register(metric)
        return metric

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Create and register a :class:`Gauge`."""
        metric = Gauge(name, documentation, labelnames)
        self.register(metric)
        return metric

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """Create and register a :class:`Histogram`."""
        metric = Histogram(name, documentation, labelnames, buckets=buckets)
        self.register(metric)
        return metric

    def render(self) -> str:
        """Every family in registration order, in Prometheus text format 0.0.4."""
        return "".join(metric.render() for metric in self._metrics.values())


def metrics_response(registry: Registry) -> Response:
    """``registry.render()`` as a ``text/plain; version=0.0.4`` response."""
    return Response(200, registry.render().encode(), CONTENT_TYPE)
