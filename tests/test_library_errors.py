"""Library errors are also the built-in exception of their kind (issue 14, item 3)."""

from __future__ import annotations

import pytest

import gicmig
from gicmig.errors import (
    REASONS,
    DecodeError,
    FileError,
    GicmigError,
    InputError,
    ValidationError,
    Violation,
)


def test_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError) as info:
        gicmig.decode(b"not a blob")
    err = info.value
    assert isinstance(err, GicmigError) and isinstance(err, DecodeError)
    assert not isinstance(err, OSError)
    assert (err.code, err.offset) == ("BLOB-BAD-MAGIC", 0)


def test_missing_file_is_an_os_error(tmp_path: object) -> None:
    with pytest.raises(OSError) as info:
        gicmig.load(f"{tmp_path}/absent.json")
    err = info.value
    assert isinstance(err, GicmigError) and isinstance(err, FileError)
    assert not isinstance(err, ValueError)
    assert err.code == "IO-READ"
    assert err.errno is None and err.args == (err.message,)
    assert str(err) == f"IO-READ cannot read {tmp_path}/absent.json: No such file or directory"


def test_validation_error_is_a_value_error() -> None:
    state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    state.banked[1].edge = 0xFFFE  # SGI 0 of CPU 1 level-triggered
    with pytest.raises(ValueError) as info:
        gicmig.validate(state)
    assert isinstance(info.value, ValidationError)
    assert [str(v) for v in info.value.violations] == [
        "SGI-NOT-EDGE cpu1 irq 0 (SGI 0): level-triggered; SGIs are always edge"]


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_code_makes_its_kind(code: str) -> None:
    err = GicmigError(code, "message")
    if REASONS[code].category == "io":  # IO-READ, IO-WRITE, SCHEMA-GIT-REF
        assert type(err) is FileError and isinstance(err, OSError)
    elif code == "INTERNAL-ERROR":
        assert type(err) is GicmigError
        assert not isinstance(err, (OSError, ValueError))
    else:
        assert type(err) is InputError and isinstance(err, ValueError)
    assert (err.code, err.message, err.offset, str(err)) == (code, "message", None,
                                                             f"{code} message")


def test_the_io_codes_are_os_errors_and_the_format_codes_value_errors() -> None:
    assert [type(GicmigError(c, "m")).__name__ for c in
            ("IO-READ", "IO-WRITE", "INTERNAL-ERROR", "BLOB-TRUNCATED", "QEMU-ACCEL", "USAGE",
             "KVM-EXPORT-PPI-EDGE", "SCHEMA-COMPILE")] == [
        "FileError", "FileError", "GicmigError", "InputError", "InputError", "InputError",
        "InputError", "InputError"]


def test_subclasses_keep_their_own_class() -> None:
    err = DecodeError("IO-READ", "x", offset=4)  # an explicit class is never replaced
    assert type(err) is DecodeError and str(err) == "IO-READ x (at byte 4)"
    with pytest.raises(KeyError):
        GicmigError("NO-SUCH-CODE", "x")


def test_errors_pickle_by_value() -> None:
    import pickle

    from gicmig.views.kvm.reader import KvmDumpIncomplete

    errors: list[GicmigError] = [
        GicmigError("IO-READ", "cannot read x: No such file or directory"),
        DecodeError("BLOB-TRUNCATED", "the blob ends", offset=7),
        ValidationError([Violation("SGI-NOT-EDGE", "cpu1 irq 0 (SGI 0)", "level")]),
        KvmDumpIncomplete(["GICD_TYPER"]),
    ]
    for err in errors:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (back.code, back.message, back.offset, str(back), back.args) == (
            err.code, err.message, err.offset, str(err), err.args)
        assert vars(back) == vars(err)
