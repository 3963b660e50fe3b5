"""The real-QEMU harness's own logic, without QEMU: the report parser, the VM shape, the
program table (harness/qemu/driver.py)."""

from __future__ import annotations

import struct

import pytest
from realqemu import SHARED, STREAMS  # first: it puts the repository root on sys.path

from harness.qemu import driver

LOG = """D0 100 0000ffff
END 00000003
BEGIN 00000004 0
D0 100 0000ffff
C1 018 000003ff
H0 10c 90000000
D* 004 00000028
END 00000004
BEGIN 00000005 1
D0 100 0000fffe
END 00000005
BEGIN 00000006 1
D0 1"""


def test_reports_skip_the_tail_of_a_migrated_report_and_one_still_printing() -> None:
    reports = driver.parse_reports(LOG)
    assert [(r.seq, r.refreshed) for r in reports] == [(4, False), (5, True)]
    assert reports[0].registers == {("GICD", 0, 0x100): 0xFFFF, ("GICC", 1, 0x18): 0x3FF,
                                    ("GICH", 0, 0x10C): 0x9000_0000,
                                    ("GICD", None, 0x004): 0x28}
    assert reports[1].registers == {("GICD", 0, 0x100): 0xFFFE}
    assert driver.parse_reports("READY\nBEGIN 00000001 0\nD0 100 0000ffff\n") == []


def test_a_cpu_that_did_not_answer_or_a_failed_program_is_an_error() -> None:
    with pytest.raises(driver.QemuError, match="CPU 1 did not answer"):
        driver.parse_reports("BEGIN 00000001 0\nMISSING 1\nEND 00000001\n")
    with pytest.raises(driver.QemuError, match="program"):
        driver.parse_reports("READY\nPROGRAM-FAILED\n")


def test_machine_of_the_shared_streams() -> None:
    args = ("-M virt,gic-version=2,virtualization=on -cpu cortex-a57 -smp 2 -m 16M "
            "-nographic -serial file:LOG -kernel virt.elf")
    assert driver.Machine.parse(args) == driver.SHARED
    assert driver.Machine.parse("-smp 4").args() == [
        "-M", "virt,gic-version=2,virtualization=on", "-cpu", "cortex-a57", "-smp", "4",
        "-m", "16M"]
    assert driver.SHARED.virtualization and not driver.Machine("virt").virtualization
    assert len(STREAMS) == 4 and SHARED.name == "qemu"


def test_program_table() -> None:
    table = driver.program_table([driver.Write(1, 0x0800_0100, 0xFFFF),
                                  driver.Write(0, 0x0800_0420, 0x10, 8)])
    assert table == struct.pack("<12I", 2, 1, 0x0800_0100, 0xFFFF, 3, 0, 0x0800_0420, 0x10,
                                0, 0, 0, 0)
