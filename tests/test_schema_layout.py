"""Folders laid out by buf.yaml / buf.work.yaml, and descriptor sets protoc accepts but
Python's descriptor pool does not (the corpus cases 66-75 run the same through buf)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_schema_rules import CASES, compiled

from gicmig.cli import main
from gicmig.errors import GicmigError
from gicmig.schemacheck.check import check_schema
from gicmig.schemacheck.sources import compile_dir, read_descriptor_set

PROTO = 'syntax = "proto3";\npackage acme;\nmessage M {\n  uint32 a = 1;\n}\n'


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_v2_modules_with_includes_name_files_inside_their_module(tmp_path: Path) -> None:
    root = folder(tmp_path, {
        "buf.yaml": "version: v2\nmodules:\n  - path: api\n    includes: [api/acme]\n"
                    "  - path: vendor\n",
        "api/acme/m.proto": PROTO,
        "api/other/broken.proto": "not protobuf",  # outside the module's includes
        "vendor/gic/n.proto": 'syntax = "proto3";\npackage gic;\nmessage N {}\n',
        "stray/outside.proto": "not protobuf either",  # in no module
    })
    schema = compile_dir(root)
    assert schema.files == {"acme/m.proto", "gic/n.proto"}
    assert schema.display_path("acme/m.proto") == f"{root}/api/acme/m.proto"
    assert schema.display_path("gic/n.proto") == f"{root}/vendor/gic/n.proto"


def test_a_work_yaml_directory_with_a_v1beta1_buf_yaml_of_its_own(tmp_path: Path) -> None:
    root = folder(tmp_path, {
        "buf.work.yaml": "version: v1\ndirectories:\n  - mod\n",
        "mod/buf.yaml": "version: v1beta1\nbuild:\n  roots: [src]\n  excludes: [src/tmp]\n",
        "mod/src/acme/m.proto": PROTO,
        "mod/src/tmp/x.proto": "not protobuf",
    })
    schema = compile_dir(root)
    assert schema.files == {"acme/m.proto"}
    assert schema.display_path("acme/m.proto") == f"{root}/mod/src/acme/m.proto"


def test_no_config_is_the_folder_itself(tmp_path: Path) -> None:
    root = folder(tmp_path, {"a/m.proto": PROTO})
    assert compile_dir(root).files == {"a/m.proto"}


@pytest.mark.parametrize(("files", "why"), [
    ({"buf.yaml": "version: v1\nbuild:\n  roots: [src]\n"}, "build.roots cannot be set"),
    ({"buf.yaml": "version: v3\n"}, "version 'v3' is not one of v1beta1, v1, v2"),
    ({"buf.yaml": "version: [v2\n"}, "not YAML"),
    ({"buf.yaml": "- v2\n"}, "not a mapping"),
    ({"buf.yaml": "version: v2\nmodules:\n  - path: ../up\n"},
     'modules[0].path "../up" is outside'),
    ({"buf.yaml": "version: v2\nmodules:\n  - path: missing\n"},
     'modules[0].path "missing" is not a folder'),
    ({"buf.yaml": "version: v2\nmodules: []\n"}, '"modules" must be a non-empty list'),
    ({"buf.yaml": "version: v1beta1\nbuild:\n  roots: [/abs]\n"}, "is outside"),
    ({"buf.work.yaml": "version: v1\n"}, '"directories" must be a non-empty list'),
    ({"buf.work.yaml": "version: v2\ndirectories: [src]\n"}, "version 'v2' is not one of v1"),
])
def test_bad_layouts_are_one_line_exit_2(tmp_path: Path, files: dict[str, str], why: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = folder(tmp_path, {**files, "src/a/m.proto": PROTO})
    with pytest.raises(GicmigError) as exc:
        compile_dir(root)
    assert exc.value.code == "SCHEMA-LAYOUT" and why in str(exc.value)
    assert main(["schema", "check", "--against", str(root), str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SCHEMA-LAYOUT" in err[0] and why in err[0]


def test_the_same_file_name_in_two_roots_is_refused(tmp_path: Path) -> None:
    root = folder(tmp_path, {"buf.yaml": "version: v1beta1\nbuild:\n  roots: [a, b]\n",
                             "a/m.proto": PROTO, "b/m.proto": PROTO})
    with pytest.raises(GicmigError) as exc:
        compile_dir(root)
    assert exc.value.code == "SCHEMA-LAYOUT" and "m.proto is both a/m.proto and b/m.proto" \
        in str(exc.value)


def test_a_descriptor_set_with_a_json_name_equal_to_its_oneof_is_read(tmp_path: Path) -> None:
    # Python's (upb) descriptor pool refuses this set; protoc and buf accept the schema
    case = next(c for c in CASES if c.name.startswith("66_"))
    before, after = compiled(case)
    for side, schema in (("before", before), ("after", after)):
        (tmp_path / f"{side}.binpb").write_bytes(schema.fds.SerializeToString())
    report = check_schema(read_descriptor_set(tmp_path / "after.binpb"),
                          [read_descriptor_set(tmp_path / "before.binpb")])
    assert [(r.rule, r.line, r.column) for r in report.results] == \
        [("FIELD_SAME_JSON_NAME", 5, 24)]


def test_a_really_inconsistent_set_is_still_refused(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name.startswith("66_"))
    before, _ = compiled(case)
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    fds.CopyFrom(before.fds)
    fds.file[0].message_type[0].field[1].type_name = ".corpus.v1.Missing"
    fds.file[0].message_type[0].field[1].type = 11
    (tmp_path / "bad.binpb").write_bytes(fds.SerializeToString())
    with pytest.raises(GicmigError) as exc:
        read_descriptor_set(tmp_path / "bad.binpb")
    assert exc.value.code == "SCHEMA-INPUT" and "inconsistent descriptor set" in str(exc.value)
