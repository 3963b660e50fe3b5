"""Where the .proto files of a folder are, read from buf's configuration files.

buf users say where their import roots are in the folder's own configuration, and `buf
breaking` reads it; so does `gicmig schema check`:

* `buf.work.yaml` (`version: v1`, `directories: [...]`): each directory is a module, itself
  laid out by its own `buf.yaml` if it has one;
* `buf.yaml` `version: v2`: `modules: [{path, includes, excludes}]` (no `modules`: the folder
  is the one module); `includes`/`excludes` are relative to the folder, like buf's;
* `buf.yaml` `version: v1beta1`: `build.roots` (default the folder) and `build.excludes`;
  `version: v1`: the folder, with `build.excludes` (buf refuses `roots` in v1, so do we).

Every root is an import root (`-I`), and a file's name in the descriptor set is its path
inside its root, which is how buf names it too. Without a configuration file the folder
itself is the one root. Everything else in these files (lint and breaking settings,
dependencies, plugins) is buf's business: gicmig always applies the WIRE_JSON rules.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gicmig.errors import GicmigError
from gicmig.files import read_below
from gicmig.limits import MAX_YAML

BUF_YAML, BUF_WORK_YAML = "buf.yaml", "buf.work.yaml"


@dataclass(frozen=True)
class Root:
    rel: str  # the root's path inside the folder ("." for the folder itself)
    includes: tuple[str, ...] = ()  # folder-relative directories; empty: everything
    excludes: tuple[str, ...] = ()  # folder-relative directories left out

    def keeps(self, folder_rel: str) -> bool:
        """Whether the file at `folder_rel` (relative to the folder) belongs to this root."""
        def under(d: str) -> bool:
            return d == "." or folder_rel.startswith(d.rstrip("/") + "/")

        return (not self.includes or any(under(d) for d in self.includes)) and \
            not any(under(d) for d in self.excludes)


def roots(folder: Path) -> list[Root]:
    """The import roots of `folder` per its buf.work.yaml / buf.yaml (or the folder)."""
    work = folder / BUF_WORK_YAML
    if os.path.lexists(work):
        doc = _read(work, folder)
        _version(work, doc, ("v1",))
        dirs = doc.get("directories")
        if not isinstance(dirs, list) or not dirs:
            raise _bad(work, '"directories" must be a non-empty list of folders')
        out: list[Root] = []
        for i, d in enumerate(dirs):
            rel = _relative(work, f"directories[{i}]", d, folder)
            for r in _module_roots(folder / rel, folder):
                out.append(Root(_join(rel, r.rel), tuple(_join(rel, x) for x in r.includes),
                                tuple(_join(rel, x) for x in r.excludes)))
        return out
    return _module_roots(folder, folder)


def _module_roots(folder: Path, top: Path) -> list[Root]:
    conf = folder / BUF_YAML
    if not os.path.lexists(conf):
        return [Root(".")]
    doc = _read(conf, top)
    version = _version(conf, doc, ("v1beta1", "v1", "v2"))
    if version == "v2":
        modules = doc.get("modules")
        if modules is None:
            return [Root(".")]
        if not isinstance(modules, list) or not modules:
            raise _bad(conf, '"modules" must be a non-empty list')
        out = []
        for i, m in enumerate(modules):
            if not isinstance(m, dict):
                raise _bad(conf, f"modules[{i}] is not a mapping")
            rel = _relative(conf, f"modules[{i}].path", m.get("path", "."), folder)
            out.append(Root(rel, _dirs(conf, f"modules[{i}].includes", m, "includes", folder),
                            _dirs(conf, f"modules[{i}].excludes", m, "excludes", folder)))
        return out
    build = doc.get("build") or {}
    if not isinstance(build, dict):
        raise _bad(conf, '"build" is not a mapping')
    excludes = _dirs(conf, "build.excludes", build, "excludes", folder)
    listed = build.get("roots")
    if listed is not None and version == "v1":
        raise _bad(conf, "build.roots cannot be set in version v1 (buf refuses it too); "
                         "use a buf.work.yaml or a v2 buf.yaml with modules")
    if listed is None:
        return [Root(".", (), excludes)]
    if not isinstance(listed, list) or not listed:
        raise _bad(conf, '"build.roots" must be a non-empty list of folders')
    return [Root(_relative(conf, f"build.roots[{i}]", r, folder), (), excludes)
            for i, r in enumerate(listed)]


def _read(path: Path, top: Path) -> dict[str, Any]:
    """A buf.yaml / buf.work.yaml: read as any file a schema folder holds (a regular file
    whose real path lies in the folder `top`, never a FIFO, device or symlink out: IO-READ),
    at most MAX_YAML bytes (YAML costs Python up to ~230x its text)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 13x faster
    data = read_below(str(top), path.relative_to(top).as_posix(), "schema layout file")
    if len(data) > MAX_YAML:
        raise _bad(path, f"{len(data)} bytes, more than the {MAX_YAML} gicmig reads in a "
                         "buf.yaml")
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=loader)  # a safe loader, C or Python
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _bad(path, f"not YAML ({first})") from None
    if not isinstance(doc, dict):
        raise _bad(path, "not a mapping")
    return doc


def _version(path: Path, doc: dict[str, Any], allowed: tuple[str, ...]) -> str:
    version = doc.get("version")
    if version not in allowed:
        raise _bad(path, f"version {version!r} is not one of {', '.join(allowed)}")
    return str(version)


def _relative(conf: Path, key: str, value: Any, folder: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(conf, f"{key} must be a folder path")
    rel = posixpath.normpath(value.strip())
    if posixpath.isabs(rel) or rel == ".." or rel.startswith("../"):
        raise _bad(conf, f'{key} "{value}" is outside {folder}')
    if not (folder / rel).is_dir():
        raise _bad(conf, f'{key} "{value}" is not a folder')
    real, top = os.path.realpath(folder / rel), os.path.realpath(folder)
    if os.path.commonpath([real, top]) != top:  # protoc would read below it
        raise _bad(conf, f'{key} "{value}" is a symlink out of {folder}')
    return rel


def _dirs(conf: Path, key: str, section: dict[str, Any], name: str,
          folder: Path) -> tuple[str, ...]:
    items = section.get(name) or []
    if not isinstance(items, list):
        raise _bad(conf, f"{key} must be a list of folders")
    return tuple(_relative(conf, f"{key}[{i}]", x, folder) for i, x in enumerate(items))


def _join(a: str, b: str) -> str:
    return posixpath.normpath(posixpath.join(a, b))


def _bad(path: Path, why: str) -> GicmigError:
    return GicmigError("SCHEMA-LAYOUT", f"{path}: {why}")
