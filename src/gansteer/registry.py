"""Name -> factory registries (generators, methods, reconstructors, direction models, metrics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import GansteerError

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    help: str = ""
    tiny: bool = False
    tags: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A named table of factories. `register` is a decorator; `get` fails with the list of valid names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, *, help: str = "", tiny: bool = False, **tags: Any
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise GansteerError(f"{self.kind} {name!r} is registered twice")
            doc = help or ((factory.__doc__ or "").strip().splitlines() or [""])[0]
            self._entries[name] = Entry(name, factory, doc, tiny, tags)
            return factory

        return decorate

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:
            raise GansteerError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}")
        return self._entries[name]

    def get(self, name: str) -> Callable[..., T]:
        return self.entry(name).factory

    def create(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())


GENERATORS: Registry[Any] = Registry("generator")
GENERATOR_FORMATS: Registry[Any] = Registry("checkpoint format")
METHODS: Registry[Any] = Registry("method")
RECONSTRUCTORS: Registry[Any] = Registry("reconstructor")
DIRECTION_MODELS: Registry[Any] = Registry("direction model")
METRICS: Registry[Any] = Registry("metric")
