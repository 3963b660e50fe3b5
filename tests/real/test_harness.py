"""The harness's pure parts, without QEMU: the case script, the serial-log parser and the
initramfs writer."""

from __future__ import annotations

from pathlib import Path

import kvm.build
import pytest
import realkvm
from kvm.build import write_cpio
from kvm.driver import (
    GICC_IAR,
    IRQ_SPI,
    OP_LOAD_REPORT,
    Case,
    HarnessError,
    parse_log,
)

from gicmig.abi.kvm.access import Access
from gicmig.views.kvm import import_kvm
from gicmig.views.kvm.dump import writes_to_json


def test_case_script() -> None:
    text = writes_to_json(64, [Access("dist", 1, 0x100, 0xFFFF), Access("cpu", 0, 0x4, 0x1F)])
    case = (Case("c1").vm(2, 64).writes_file(text).read("dist", 1, 0x8)
            .line(IRQ_SPI, 0, 40, 1).run(1, [(OP_LOAD_REPORT, GICC_IAR, 0)]).dump(full=True))
    assert case.steps == ["V 2 40", "W d 1 100 ffff", "W c 0 4 1f", "G d 1 8", "L 1 0 28 1",
                          "P 1 1", "1 801000c 0", "D f"]
    with pytest.raises(ValueError):
        Case("two words")


LOG = """\
[    1.0] some kernel line
@HELLO
@C a
@V 1 40
@E W d 0 8 4b00143b EINVAL
@G d 0 8 4b00343b
@R 0 1d
@D 0
@S d 0 0 1000
@v d 0 4 1
@v d 0 8 4b00343b
@v d 0 100 ffff
@v d 0 180 ffff
@v d 0 800 1010101
@v d 0 804 1010101
@v d 0 808 1010101
@v d 0 80c 1010101
@v d 0 810 1010101
@v d 0 814 1010101
@v d 0 818 1010101
@v d 0 81c 1010101
@v d 0 c00 aaaaaaaa
@v d 0 c08 aaaaaaaa
@v d 0 c0c aaaaaaaa
@S c 0 0 100
@v c 0 4 1f
@v c 0 8 2
@v c 0 1c 3
@v c 0 fc 4b2043b
@S c 0 1000 1004
@X
@BYE
"""


def test_parse_log() -> None:
    (res,) = parse_log(LOG, ["a"], "Linux 6.1.0-57-arm64").values()
    assert res.finished and res.vm_created and res.nr_irqs == 64
    assert res.errors == ["W d 0 8 4b00143b EINVAL"]
    assert res.read_value("dist", 0, 8) == 0x4B00343B
    assert (res.reports, res.done) == ([(0, 0x1D)], [0])
    (dump,) = res.dumps
    regs = dump.registers()
    assert len(regs) == 1024 + 64 + 1 and regs[("cpu", 0, 0x4)] == 0x1F
    assert regs[("dist", 0, 0x200)] == 0  # swept, not printed: read as 0
    state = import_kvm(dump)
    assert state.cpu[0].pmr == 0xF8 and state.shared.edge == (1 << 32) - 1
    assert state.provenance.host_kernel == "Linux 6.1.0-57-arm64"


def test_parse_log_refuses_a_case_that_did_not_finish() -> None:
    with pytest.raises(HarnessError, match=r"1 case.*first: a"):
        parse_log(LOG.replace("@X\n", ""), ["a"])
    with pytest.raises(HarnessError, match="first: b"):
        parse_log(LOG, ["a", "b"])


def test_cpio(tmp_path: Path) -> None:
    path = tmp_path / "initrd"
    write_cpio(path, {"init": b"\x7fELF...", "cases.txt": b"C a\nX\n"})
    data = path.read_bytes()
    entries, pos = [], 0
    while True:
        head = data[pos:pos + 110]
        assert head[:6] == b"070701"
        fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        entries.append((name, oct(fields[1]), data[pos:pos + filesize], fields[9:11]))
        pos += filesize + -filesize % 4
        if name == "TRAILER!!!":
            break
    assert pos == len(data)
    assert entries == [("dev", "0o40755", b"", [0, 0]), ("dev/console", "0o20600", b"", [5, 1]),
                       ("init", "0o100755", b"\x7fELF...", [0, 0]),
                       ("cases.txt", "0o100755", b"C a\nX\n", [0, 0]),
                       ("TRAILER!!!", "0o0", b"", [0, 0])]


def test_missing_tools_skip_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kvm.build.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="qemu-system-aarch64 not found"):
        realkvm.artifacts()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"required in CI \(CI=true\)"):
        realkvm.artifacts()
