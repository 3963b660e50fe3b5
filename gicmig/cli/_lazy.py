"""What the command modules import at load time, at no cost: `gicmig --help` builds every
command's parser, so a module the commands use only when they run (json) is loaded on
first use, and `TYPE_CHECKING` does not import typing (issue 14: `gicmig --help` <= 5x a
bare interpreter start; benchmarks/bench_startup.py)."""

TYPE_CHECKING = False  # mypy takes any TYPE_CHECKING as true


class _Lazy:
    """A module imported when one of its attributes is first used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> object:
        module = __import__(self._name)
        return getattr(module, attr)


if TYPE_CHECKING:
    import json as json
else:
    json = _Lazy("json")
