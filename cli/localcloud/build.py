"""`sam build`, as a deploy does it: what the local cloud runs and the tests import.

The local cloud runs what `sam build` makes, never the source tree: each function's folder and its
layers' `python/`, as Lambda would mount them. A build is kept under `.aws-sam/local/` by the hash
of everything it is made from, so it runs once per change, not once per test run.

The template's functions are arm64. This machine may not be: the local build is the same template
for the machine's own processor (so that compiled wheels load here), while `build(root, "arm64")` is
the deploy's build, whose compiled files the tests check are arm64 ones.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from localcloud.names import PROJECT_ROOT
from localcloud.template import load_template

SOURCES = ("template.yaml", "samconfig.toml", "functions", "layers", "statemachine")
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_PATH_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")
# Where `make setup` puts the SAM CLI, in a virtualenv of the functions' Python (3.12).
TOOLS = PROJECT_ROOT / ".tools" / "sam" / "bin"


class BuildError(RuntimeError):
    """`sam build` failed or is not installed."""


def host_architecture() -> str:
    """This machine's processor, as Lambda names it."""
    return _ARCHITECTURES[platform.machine().lower()]


def sam_command() -> list[str]:
    """The SAM CLI: the project's own (`make setup` installs it in .tools/sam), else one on PATH."""
    local = TOOLS / "sam"
    if local.exists():
        return [str(local)]
    found = shutil.which("sam")
    if found is None:
        raise BuildError("the SAM CLI is not installed: run `make setup` (it installs it in .tools/sam)")
    return [found]


def sources_digest(root: Path, architecture: str) -> str:
    """The hash of everything a build is made from (and of the architecture it is made for)."""
    digest = hashlib.sha256(architecture.encode())
    # How the build is made counts too: this file's rewrite and the SAM CLI's pinned version.
    for extra in (Path(__file__), PROJECT_ROOT / "constraints-sam.txt"):
        digest.update(extra.read_bytes() if extra.exists() else b"")
    for name in SOURCES:
        base = root / name
        if base.is_dir():
            paths = sorted(Path(folder) / file for folder, _, files in os.walk(base, followlinks=True)
                           for file in files)
        else:
            paths = [base] if base.exists() else []
        for path in paths:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".so"):  # (.so: a dev install's, not built from)
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def build(root: Path, architecture: str | None = None) -> Path:
    """The built artifacts for `architecture` (default: this machine's), building them if the sources
    changed since. Returns the build folder: one folder per function and layer, and template.yaml."""
    architecture = architecture or host_architecture()
    builds = root / ".aws-sam" / "local"
    builds.mkdir(parents=True, exist_ok=True)
    with open(builds / ".lock", "w") as lock:  # test workers build once between them
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = builds / f"{architecture}-{sources_digest(root, architecture)}"
        if not (target / "template.yaml").exists():
            _sam_build(root, architecture, target)
            _forget_older(builds, architecture, keep=target)
    return target


def _sam_build(root: Path, architecture: str, target: Path) -> None:
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    if architecture == template_architecture(root):  # the deploy's own build: template.yaml as it is
        template = root / "template.yaml"
    else:
        template = work / "source-template.json"
        template.write_text(json.dumps(_for_architecture(root, architecture), indent=1), encoding="utf-8")
    sam = sam_command()
    # sam build runs pip with the functions' Python (python3.12): the SAM CLI's own virtualenv has it.
    # The layer's makefile compiles the detection pass for REFUNDS_BUILD_ARCHITECTURE when this machine can.
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{Path(sam[0]).parent}{os.pathsep}{os.environ['PATH']}",
           "REFUNDS_BUILD_ARCHITECTURE": architecture}
    command = [*sam, "build", "--template-file", str(template), "--build-dir", str(work / "build"),
               "--cache-dir", str(root / ".aws-sam" / "cache"), "--cached", "--parallel"]
    print(f"local cloud: sam build for {architecture} (once per change of the sources)", file=sys.stderr)
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"sam build failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    shutil.rmtree(target, ignore_errors=True)
    (work / "build").rename(target)
    shutil.rmtree(work, ignore_errors=True)


def template_architecture(root: Path) -> str:
    """The functions' processor, as template.yaml's Globals say."""
    return str(load_template(root / "template.yaml")["Globals"]["Function"]["Architectures"][0])


def _for_architecture(root: Path, architecture: str) -> dict[str, Any]:
    """template.yaml for `architecture`, its local paths made absolute (it is written elsewhere)."""
    template = load_template(root / "template.yaml")
    function_globals = template.get("Globals", {}).get("Function", {})
    if "Architectures" in function_globals:
        function_globals["Architectures"] = [architecture]
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for name in _PATH_PROPERTIES:
            if isinstance(properties.get(name), str) and not properties[name].startswith("s3://"):
                properties[name] = str((root / properties[name]).resolve())
        if resource.get("Type") == "AWS::Serverless::Function" and "Architectures" in properties:
            properties["Architectures"] = [architecture]
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            if "CompatibleArchitectures" in properties:
                properties["CompatibleArchitectures"] = [architecture]
            if "BuildArchitecture" in resource.get("Metadata", {}):
                resource["Metadata"]["BuildArchitecture"] = architecture
    return template


def _forget_older(builds: Path, architecture: str, keep: Path) -> None:
    """Builds of older sources for the same architecture go (each holds a copy of the layer), but for
    the one before: a local cloud still running may be using it."""
    older = sorted((b for b in builds.glob(f"{architecture}-*") if b.is_dir() and b != keep
                    and not b.name.endswith(".partial")), key=lambda b: b.stat().st_mtime, reverse=True)
    for old in older[1:]:
        shutil.rmtree(old, ignore_errors=True)


def runtime_python(runtime: str) -> str:
    """The interpreter of a Lambda runtime ("python3.12"): the SAM CLI's (make setup made it with that
    version), else one on PATH."""
    version = runtime.removeprefix("python")
    local = TOOLS / f"python{version}"
    found = str(local) if local.exists() else shutil.which(f"python{version}")
    if found is None:
        raise BuildError(f"no Python {version} for the {runtime} runtime: run `make setup`")
    return found
