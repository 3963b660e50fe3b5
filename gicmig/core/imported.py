"""What every importer returns: a `GicState`, with the report of its import beside it.

`gicmig.import_kvm`, `import_qemu` and `import_gich` return an `ImportedState`: a
`GicState` like any other (`gicmig.encode(gicmig.import_qemu(path))` works, and it equals
the state the same input always gives), whose `.import_report` says what the import
changed and inferred:

    >>> state = gicmig.import_kvm("fixtures/kvm/two-vcpu.json")
    >>> state.import_report.view, state.config.num_cpus
    ('kvm', 2)

The report is not part of the state: it is neither encoded nor compared, and `copy()`
returns a plain `GicState`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gicmig.core.attribution import Derivation
from gicmig.core.model import GicState
from gicmig.errors import Violation


@dataclass(frozen=True)
class Assumption:
    """A parameter the input does not record and the caller did not give: the value the
    import used (`name` is the importer's keyword argument that overrides it) and why."""

    name: str
    value: int | str
    why: str

    def __str__(self) -> str:
        return f"{self.name}={self.value} ({self.why})"


@dataclass(frozen=True)
class ImportReport:
    """What an import did beyond reading: `normalized` lists each change it made to the
    input's state to make it canonical (a KVM never-run vCPU's binary points; with
    `lenient=True`, the benign deviations of a QEMU stream or a GICH view), `derived` each
    fact it inferred from the active interrupts (gicmig.core.attribution), `assumed` each
    parameter it chose itself (`Assumption`). A view may add its own fields
    (`import_qemu`'s report adds where it found the section).

    >>> report = gicmig.import_kvm("fixtures/kvm/two-vcpu.json").import_report
    >>> report.view, report.normalized, report.derived[0].place
    ('kvm', (), 'irq 48 (SPI 16)')
    >>> [str(a) for a in report.assumed]
    ['num_cpus=2 (GICD_TYPER.CPUNumber + 1)', "priority_bits=5 (KVM's GICv2 implements 5)"]
    """

    view: str  # "kvm", "qemu" or "gich"
    normalized: tuple[Violation, ...] = ()
    derived: tuple[Derivation, ...] = ()
    assumed: tuple[Assumption, ...] = ()


class ImportedState(GicState):
    """A `GicState` from an importer, with `.import_report` (an `ImportReport`).

    `.normalizations` and `.derivations` are the report's `normalized` and `derived`.

    >>> state = gicmig.import_kvm("fixtures/kvm/two-vcpu.json")
    >>> isinstance(state, gicmig.GicState), len(gicmig.encode(state)) > 0
    (True, True)
    """

    __slots__ = ("import_report",)

    def __init__(self, state: GicState, report: ImportReport) -> None:
        super().__init__(state._pb, state.schema_revision)
        self.import_report = report

    @property
    def normalizations(self) -> tuple[Violation, ...]:
        return self.import_report.normalized

    @property
    def derivations(self) -> tuple[Derivation, ...]:
        return self.import_report.derived
