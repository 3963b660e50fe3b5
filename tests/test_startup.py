"""Start-up stays cheap (issue 14): `import gicmig` imports nothing else, and `gicmig --help`
loads only argparse and what it needs, not json, typing, dataclasses (through
gicmig.errors), protobuf or pydantic. Times are benchmarks/bench_startup.py's job; this
pins the imports that make them, so a regression fails here with its module's name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

PROBE = """
import sys
base = set(sys.modules)
{code}
print(sorted(set(sys.modules) - base))
"""


def loaded(code: str) -> list[str]:
    """Modules `code` adds to a fresh interpreter beyond what its start-up loaded."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], check=True,
                         capture_output=True, text=True, timeout=60)
    mods: list[str] = ast.literal_eval(out.stdout.splitlines()[-1])
    return mods


def test_import_gicmig_imports_nothing_else() -> None:
    assert loaded("import gicmig") == ["gicmig"]


def test_help_does_not_import_what_only_commands_need() -> None:
    code = ("import contextlib, io\nfrom gicmig.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])")
    mods = loaded(f"try:\n    {code.replace(chr(10), chr(10) + '    ')}\nexcept SystemExit:\n"
                  "    pass")
    heavy = {"json", "typing", "dataclasses", "inspect", "gicmig.errors", "google.protobuf",
             "pydantic", "gicmig.core", "gicmig.formats", "gicmig.views"}
    assert not heavy & set(mods), sorted(heavy & set(mods))
    assert "argparse" in mods and "gicmig.cli.codec_cmds" in mods  # the parser was built


def test_lazy_json_is_the_json_module() -> None:
    from gicmig.cli._lazy import json as lazy

    assert lazy.dumps({"a": [1]}) == json.dumps({"a": [1]})
    assert lazy.JSONDecodeError is json.JSONDecodeError


def test_a_qemu_import_does_not_load_the_qemu_writer() -> None:
    """gicmig.views.qemu imports its writing side (encoders, splice, write) on first use:
    `import qemu` and the library's import_qemu do not pay for it (56 M instructions)."""
    mods = set(loaded("import gicmig\ngicmig.import_qemu"))
    assert "gicmig.views.qemu.convert" in mods
    writer = {"gicmig.views.qemu.write", "gicmig.views.qemu.splice",
              "gicmig.views.qemu.encode_tcg", "gicmig.views.qemu.encode_kvm"}
    assert not writer & mods, sorted(writer & mods)
    mods = set(loaded("import gicmig\ngicmig.export_qemu"))
    assert writer <= mods
