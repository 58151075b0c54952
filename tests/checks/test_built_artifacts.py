"""What `sam build` makes is what Lambda can run: every handler imports from its built folder and
the built layer's python/ alone, in the runtime's Python with nothing else on the path, and every
compiled file in the deploy's build is for the functions' processor."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from localcloud.build import build, host_architecture, runtime_python
from localcloud.template import load_template

from tests.conftest import ROOT

ELF_MACHINES = {183: "arm64", 62: "x86_64"}  # e_machine: EM_AARCH64, EM_X86_64


def functions_of(built: Path) -> dict[str, dict]:
    resources = load_template(built / "template.yaml")["Resources"]
    return {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def machine_of(binary: Path) -> str:
    header = binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{binary} is not an ELF file"
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), f"machine {header[18:20].hex()}")


def test_the_deploy_build_holds_only_code_for_the_functions_processor():
    source = load_template(ROOT / "template.yaml")
    architecture = source["Globals"]["Function"]["Architectures"][0]
    layer = source["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildArchitecture"] == architecture
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    built = build(ROOT, architecture)
    compiled = [p for p in built.rglob("*") if p.suffix == ".so" or ".so." in p.name]
    assert compiled, "the layer has no compiled files (pydantic_core has one): was it built?"
    wrong = {str(p.relative_to(built)): machine_of(p) for p in compiled if machine_of(p) != architecture}
    assert not wrong, f"compiled for another processor than {architecture}: {wrong}"
    # The layer's code lands where Lambda looks: /opt/python/creditrefunds, not python/python/...
    assert (built / "CoreLayer" / "python" / "creditrefunds" / "domain" / "ledger.py").exists()


PROBE = textwrap.dedent("""
    import importlib, json, sys
    sys.path[:0] = json.loads(sys.argv[1])
    module, name = sys.argv[2].rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)
    assert callable(handler)
    where = {m: getattr(sys.modules.get(m), "__file__", None) for m in ("creditrefunds", "pydantic", "boto3",
                                                                          "aws_lambda_powertools")}
    leaked = []
    for outside in ("moto", "refunds_cli", "pyarrow", "pytest"):
        try:
            importlib.import_module(outside)
            leaked.append(outside)
        except ImportError:
            pass
    print(json.dumps({"where": where, "leaked": leaked}))
""")


@pytest.mark.parametrize("function", sorted(functions_of(build(ROOT))))
def test_each_handler_imports_from_its_built_folder_and_the_layer_alone(function):
    built = build(ROOT, host_architecture())  # the same template, for this machine's processor
    props = functions_of(built)[function]
    globals_ = load_template(built / "template.yaml")["Globals"]["Function"]
    runtime = props.get("Runtime", globals_["Runtime"])
    code, layer = built / props["CodeUri"], built / "CoreLayer" / "python"
    done = subprocess.run(
        [runtime_python(runtime), "-I", "-S", "-c", PROBE, json.dumps([str(code), str(layer)]),
         props.get("Handler", globals_.get("Handler"))],
        cwd=code, env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "LANG": "C.UTF-8"},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert not found["leaked"], f"importable although not in the artifact: {found['leaked']}"
    for module, path in found["where"].items():
        assert path and Path(path).is_relative_to(layer), f"{module} came from {path}, not the built layer"


def test_the_layer_built_for_this_machine_carries_the_compiled_detection_pass():
    """The layer's makefile compiles the detection pass for the functions' processor where this machine
    can (here: the local cloud's build); the runtime's Python imports it from the layer alone."""
    built = build(ROOT, host_architecture())
    layer = built / "CoreLayer" / "python"
    [compiled] = (layer / "creditrefunds" / "domain").glob("_fastdetect.*.so")
    assert machine_of(compiled) == host_architecture()
    runtime = load_template(built / "template.yaml")["Globals"]["Function"]["Runtime"]
    probe = ("import json, sys; sys.path[:0] = [sys.argv[1]]; from creditrefunds.domain import fastpass; "
             "print(json.dumps([fastpass.UNAVAILABLE, fastpass._fastdetect.__file__]))")
    done = subprocess.run([runtime_python(runtime), "-I", "-S", "-c", probe, str(layer)], capture_output=True,
                          text=True, timeout=60, check=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    unavailable, where = json.loads(done.stdout)
    assert unavailable is None and where.startswith(str(layer))
    # The C source stays out of the artifact, and no build of the developer's own Python slips in.
    assert not list((layer / "creditrefunds").rglob("*.c")) and not list(layer.rglob("*cpython-311*"))
