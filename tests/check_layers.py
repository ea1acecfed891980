#!/usr/bin/env python3
"""check_layers.py SOURCE_DIR - the module map of docs/architecture.md, made executable.

Every product folder is one module (a static library of the same name in CMake). A module may
include headers of, and link, only the modules it is allowed to use: dependencies point one
way, from the program's main down to base. This check fails, naming the file and line, when

  - a `#include "x.h"` in a module reaches a header of a module it may not use;
  - a CMake `gslb_module(...)` or `target_link_libraries(...)` line of a module links a
    `gslb_*` library it may not use;
  - a header name is defined by two modules (includes are resolved by name);
  - the allowed map itself has a cycle, or a product folder is in no module;
  - a unit test is not in tests/unit/<module folder>/ (the tests mirror the source tree).

Tests, fuzz targets and test tools may use every module and are not checked.
"""
import os
import re
import sys

# folder -> (CMake library, modules it may use). Lowest layer first.
MODULES = {
    "storage/base": ("gslb_base", []),
    "storage": ("gslb_storage", ["storage/base"]),
    "storage/dump": ("gslb_dump", ["storage", "storage/base"]),
    "agentd/wire": ("gslb_wire", ["storage", "storage/base"]),
    "agentd/probe": ("gslb_probe", ["storage", "storage/base"]),
    "agentd": ("gslb_agent", ["agentd/wire", "agentd/probe", "storage", "storage/base"]),
    "server/config": ("gslb_config", ["storage", "storage/base"]),
    "server/dnssec": ("gslb_dnssec", ["storage", "storage/base"]),
    "api": ("gslb_api", ["storage", "storage/base"]),
    "api/shim": ("gslb_ssl_shim", []),
    "server/dns": ("gslb_dns", ["server/dnssec", "server/config", "storage", "storage/base"]),
    "server/health": (
        "gslb_health",
        ["agentd/wire", "agentd/probe", "server/config", "storage", "storage/base"],
    ),
    "server": (
        "gslb_server",
        [
            "server/dns",
            "server/health",
            "server/dnssec",
            "server/config",
            "api",
            "agentd/wire",
            "agentd/probe",
            "storage",
            "storage/base",
        ],
    ),
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LINK_RE = re.compile(r"\b(gslb_module|target_link_libraries)\s*\(([^)]*)\)", re.S)


def module_of(path):
    """The module folder owning a repository-relative path, or None."""
    best = None
    for folder in MODULES:
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def own_files(root, folder):
    """Source files directly in a module folder (sub-folders are other modules)."""
    d = os.path.join(root, folder)
    return sorted(f for f in os.listdir(d) if f.endswith((".c", ".h")))


def cycle_in_map():
    state = {}

    def visit(m, stack):
        if state.get(m) == 1:
            return stack[stack.index(m):] + [m]
        if state.get(m) == 2:
            return None
        state[m] = 1
        for d in MODULES[m][1]:
            c = visit(d, stack + [m])
            if c:
                return c
        state[m] = 2
        return None

    for m in MODULES:
        c = visit(m, [])
        if c:
            return c
    return None


def header_index(root, problems):
    index = {}
    for folder in MODULES:
        for f in own_files(root, folder):
            if not f.endswith(".h"):
                continue
            if f in index:
                problems.append(f"{folder}/{f}: header name also defined in {index[f]}/{f}")
            index[f] = folder
    return index


def check_includes(root, index, problems):
    for folder, (_, allowed) in MODULES.items():
        for f in own_files(root, folder):
            path = f"{folder}/{f}"
            with open(os.path.join(root, path), encoding="utf-8") as fh:
                for no, line in enumerate(fh, 1):
                    m = INCLUDE_RE.match(line)
                    if not m:
                        continue
                    target = index.get(os.path.basename(m.group(1)))
                    if target is None or target == folder or target in allowed:
                        continue
                    problems.append(
                        f"{path}:{no}: includes {m.group(1)} of {target}, "
                        f"which {folder} may not use (allowed: {', '.join(allowed) or 'none'})"
                    )


def check_cmake(root, problems):
    lib_to_folder = {lib: folder for folder, (lib, _) in MODULES.items()}
    for folder, (lib, allowed) in MODULES.items():
        path = f"{folder}/CMakeLists.txt"
        full = os.path.join(root, path)
        if not os.path.exists(full):
            problems.append(f"{path}: missing (every module folder builds its own library)")
            continue
        text = open(full, encoding="utf-8").read()
        for m in LINK_RE.finditer(text):
            no = text.count("\n", 0, m.start()) + 1
            words = m.group(2).split()
            target = words[0]
            if m.group(1) == "target_link_libraries" and target != lib:
                continue
            for dep in words[1:]:
                dep_folder = lib_to_folder.get(dep)
                if dep_folder is None or dep_folder == folder or dep_folder in allowed:
                    continue
                problems.append(
                    f"{path}:{no}: {lib} links {dep} ({dep_folder}), which {folder} may not use"
                )


def check_every_folder_mapped(root, problems):
    for top in ("storage", "agentd", "server", "api"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            rel = os.path.relpath(dirpath, root)
            if any(f.endswith((".c", ".h")) for f in filenames) and rel not in MODULES:
                problems.append(f"{rel}/: C sources in a folder that is no module")


def find_problems(root):
    problems = []
    cyc = cycle_in_map()
    if cyc:
        problems.append("module map has a cycle: " + " -> ".join(cyc))
    check_every_folder_mapped(root, problems)
    index = header_index(root, problems)
    check_includes(root, index, problems)
    check_cmake(root, problems)
    check_unit_tests_mirror(root, problems)
    return problems


def self_test(root):
    """The check must catch an upward include and an upward link in a copy of the tree."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for top in ("storage", "agentd", "server", "api"):
            shutil.copytree(
                os.path.join(root, top),
                os.path.join(tmp, top),
                ignore=lambda d, names: [n for n in names if n.startswith("build")],
            )
        baseline = len(find_problems(tmp))
        with open(os.path.join(tmp, "storage/base/gslb_err.h"), "a") as f:
            f.write('#include "runtime.h"\n')
        with open(os.path.join(tmp, "server/config/CMakeLists.txt"), "a") as f:
            f.write("target_link_libraries(gslb_config PUBLIC gslb_dns)\n")
        got = find_problems(tmp)
    want = ["storage/base/gslb_err.h:", "server/config/CMakeLists.txt:"]
    missing = [w for w in want if not any(p.startswith(w) for p in got)]
    if missing or len(got) != baseline + 2:
        print("check_layers self-test: injected problems not reported exactly:", got)
        return 1
    print("check_layers self-test: an upward include and an upward link are reported")
    return 0


def check_unit_tests_mirror(root, problems):
    """Unit tests live in tests/unit/<module folder>/, like the code they test."""
    base = os.path.join(root, "tests", "unit")
    if not os.path.isdir(base):
        return
    for dirpath, _, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        for f in filenames:
            if f.startswith("test_") and f.endswith(".c") and rel not in MODULES:
                problems.append(
                    f"tests/unit/{'' if rel == '.' else rel + '/'}{f}: unit tests go in "
                    "tests/unit/<module folder>/ (the folder of the code they test)"
                )


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    if len(sys.argv) > 2 and sys.argv[2] == "--self-test":
        return self_test(root)
    problems = find_problems(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s); see docs/architecture.md, 'Module map'")
        return 1
    print(f"check_layers: {len(MODULES)} modules, every include and link points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
