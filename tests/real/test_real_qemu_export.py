"""Real QEMU 7.2 loads what `gicmig.export_qemu` writes, keeps it, and shows it to a guest.

The template is a stream of the read-back guest (harness/qemu/guest) at reset, so that the
guest keeps running after `cont` on the destination. For the states of the shared
streams and for seeded random states (tests/strategies.py `qemu_tcg_states`, filtered by
the writer's own strict refusal), the exported stream is loaded by
`qemu-system-aarch64 -incoming`, migrated out again and re-imported (same canonical
state: QEMU never refuses or changes a stream gicmig wrote), then resumed: the guest reads
back exactly the registers the canonical state implies (gicmig.views.qemu.registers),
also after it made QEMU recompute its caches (current_pending, running_priority,
GICH_MISR, the maintenance line) by its own rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from realqemu import (  # first: it puts the repository root (harness/) on sys.path
    SHARED,
    STREAMS,
    assert_readback,
    assert_same_state,
    import_tcg,
    require_qemu,
    shared_machine,
)
from strategies import qemu_tcg_states  # tests/ (tests/conftest.py puts it on sys.path)

import gicmig
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.core.model import GicState
from harness.qemu import driver

pytestmark = pytest.mark.realqemu
RANDOM_STATES = 120  # seeded draws; at least MIN_ACCEPTED must be ones QEMU can hold
MIN_ACCEPTED = 100
SEED = 12
UART_ID = 33  # the PL011's SPI: the guest's printing drives its line low


@pytest.fixture(scope="module", autouse=True)
def _real_qemu() -> None:
    require_qemu()  # skips, or fails under CI=true, without QEMU or the cross compiler


@pytest.fixture(scope="module")
def templates() -> dict[driver.Machine, Path]:
    """The read-back guest at reset, stopped and migrated to a file, per VM shape (made on
    first use)."""
    return {}


def template_for(machine: driver.Machine, cache: dict[driver.Machine, Path],
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_qemu()
    if machine not in cache:
        path = tmp_path_factory.mktemp("template") / f"guest-smp{machine.smp}.mig"
        driver.make_template(path, machine)
        cache[machine] = path
    return cache[machine]


@pytest.fixture(scope="module")
def template(templates: dict[driver.Machine, Path],
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template of the shared streams' shape."""
    return template_for(shared_machine(), templates, tmp_path_factory)


def export(state: GicState, template: Path, out: Path) -> Path:
    gicmig.export_qemu(state, template, out, accel="tcg")
    return out


def check(state: GicState, stream: Path, machine: driver.Machine, what: str) -> None:
    """Load `stream` (which gicmig wrote for `state`), migrate it out, read back."""
    again = stream.with_suffix(".again.mig")
    read = driver.load_migrate_read(stream, again, machine)
    assert_same_state(import_tcg(stream), state, f"{what}: the exported stream")
    assert_same_state(import_tcg(again), state, f"{what}: re-migrated by QEMU")
    assert_readback(read.loaded, state)
    assert_readback(read.refreshed, state)  # QEMU's own rules give the caches gicmig wrote


@pytest.mark.parametrize("name", STREAMS)
def test_shared_states_exported_into_the_guest_template(
        name: str, template: Path, tmp_path: Path) -> None:
    state = import_tcg(SHARED / "streams" / f"{name}.mig")
    check(state, export(state, template, tmp_path / f"{name}.mig"), shared_machine(), name)


@pytest.mark.parametrize("name", STREAMS)
def test_shared_states_exported_into_another_shared_stream(
        name: str, tmp_path: Path) -> None:
    """A shared stream as template (its own guest: not resumed): QEMU loads and keeps it."""
    state = import_tcg(SHARED / "streams" / f"{name}.mig")
    other = next(n for n in STREAMS if n != name)
    out = export(state, SHARED / "streams" / f"{other}.mig", tmp_path / f"{name}.mig")
    again = tmp_path / f"{name}.again.mig"
    driver.remigrate(out, again, shared_machine())
    assert_same_state(import_tcg(again), state, f"{name} in {other}'s stream, re-migrated")


def seeded_states(template: Path, out_dir: Path,
                  count: int) -> tuple[list[tuple[GicState, Path]], int]:
    """`count` deterministic draws; those the writer (strict) accepts, exported, and the
    number it refused."""
    config = import_tcg(template).config
    accepted: list[tuple[GicState, Path]] = []
    refused = [0]

    @seed(SEED)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(qemu_tcg_states(config))
    def draw(state: GicState) -> None:
        state = state.copy()
        state.shared.line_level &= ~(1 << (UART_ID - NUM_PRIVATE))
        out = out_dir / f"random-{len(accepted) + refused[0]:03d}.mig"
        try:
            export(state, template, out)
        except gicmig.ValidationError:  # strict: a state QEMU cannot hold, refused
            refused[0] += 1
            return
        accepted.append((state, out))

    draw()
    return accepted, refused[0]


# (VM shape, draws, at least this many accepted): the shared streams' shape, and a
# uniprocessor GIC (ITARGETSR RAZ/WI) and a 4-CPU one of the same board
SHAPES = [(driver.SHARED, RANDOM_STATES, MIN_ACCEPTED),
          (driver.Machine(smp=1), 20, 15), (driver.Machine(smp=4), 12, 10)]


@pytest.mark.parametrize(("machine", "count", "least"), SHAPES,
                         ids=[f"smp{m.smp}" for m, _, _ in SHAPES])
def test_seeded_random_states(machine: driver.Machine, count: int, least: int,
                              templates: dict[driver.Machine, Path], tmp_path: Path,
                              tmp_path_factory: pytest.TempPathFactory) -> None:
    template = template_for(machine, templates, tmp_path_factory)
    states, refused = seeded_states(template, tmp_path, count)
    assert len(states) >= least, f"only {len(states)} of {count} states accepted " \
                                 f"({refused} refused)"
    failures = driver.run_parallel(
        [lambda s=s, p=p: _failure(s, p, machine) for s, p in states])
    failed = [f for f in failures if f]
    assert not failed, f"{len(failed)} of {len(states)} states:\n" + "\n\n".join(failed[:5])
    print(f"{machine}: QEMU loaded, re-migrated and read back {len(states)} exported states "
          f"({refused} of {count} refused by the writer)")


def _failure(state: GicState, stream: Path, machine: driver.Machine) -> str:
    try:
        check(state, stream, machine, stream.name)
    except (AssertionError, driver.QemuError) as e:
        return f"{stream.name}: {e}"
    return ""


def test_template_of_another_shape_is_refused(templates: dict[driver.Machine, Path],
                                              tmp_path_factory: pytest.TempPathFactory,
                                              tmp_path: Path) -> None:
    """The writer refuses a template whose VM has a different number of CPUs (QEMU would
    refuse the stream in its cpu sections)."""
    state = import_tcg(SHARED / "streams" / "dist.mig")
    one_cpu = template_for(driver.Machine(smp=1), templates, tmp_path_factory)
    with pytest.raises(gicmig.GicmigError) as e:
        gicmig.export_qemu(state, one_cpu, tmp_path / "out.mig", accel="tcg")
    assert e.value.code == "QEMU-TEMPLATE-NUM-CPUS"
    assert not (tmp_path / "out.mig").exists()
