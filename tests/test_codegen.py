"""The installed protobuf code is what proto/ compiles to (no stale generated code)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2

from gicmig.core.pb import pb

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    from grpc_tools import protoc

    out = tmp_path / "set.binpb"
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    assert protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"--descriptor_set_out={out}",
                        *protos]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    by_name = {f.name: f for f in fresh.file}
    installed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert installed == _without_json_names(by_name[installed.name])


def _without_json_names(
        f: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """Python gencode strips the derived json_name that descriptor sets carry."""
    stack = list(f.message_type)
    while stack:
        m = stack.pop()
        for field in m.field:
            field.ClearField("json_name")
        stack.extend(m.nested_type)
    return f
