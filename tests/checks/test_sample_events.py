"""Every function has a sample event in events/ (what `sam local invoke -e` takes), and each sample
is one its handler accepts: the task models parse it, the S3 and Function URL events have the shape
AWS sends and the local cloud builds."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from localcloud.template import load_template
from localcloud.web import function_url_event
from pydantic import BaseModel

from tests.conftest import ROOT

# Importing a handler builds Powertools' tracer, whose X-Ray recorder makes its UDP emitter's socket at once
# (it sends nothing until a segment closes, and no segment is opened here).
pytestmark = pytest.mark.enable_socket

FUNCTIONS = sorted({Path(r["Properties"]["CodeUri"]).name for r in load_template(ROOT / "template.yaml")["Resources"]
                    .values() if r["Type"] == "AWS::Serverless::Function"})


def handler_module(name: str) -> ModuleType:
    unique = f"_sample_events_{name}"
    spec = importlib.util.spec_from_file_location(unique, ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules[unique] = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "functions" / name))  # as Lambda runs it: its own folder first
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "functions" / name))
    return module


def samples(name: str) -> list[dict]:
    found = sorted((ROOT / "events").glob(f"{name}.json")) + sorted((ROOT / "events").glob(f"{name}-*.json"))
    return [json.loads(path.read_text()) for path in found]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_a_sample_its_handler_accepts(name):
    events = samples(name)
    assert events, f"add events/{name}.json: a sample event for `sam local invoke -e`"
    module = handler_module(name)
    model = getattr(module, "Event", None)
    for event in events:
        if isinstance(model, type) and issubclass(model, BaseModel):
            model.model_validate(event)
        elif event.get("Records", [{}])[0].get("eventSource") == "aws:s3":
            [dropped] = [module.dropped(r) for r in module.S3Event(event).records]
            assert dropped.key.startswith("incoming/") and dropped.event_time.tzinfo is not None
        elif "Records" in event and name == "mail_sender":  # queued mail, as a function queued it
            for record in event["Records"]:
                assert record["eventSource"] == "aws:sqs" and module.Mail.from_json(json.loads(record["body"])).to
        elif "Records" in event:  # an SQS batch of on-failure destination records
            [record] = event["Records"]
            failure = json.loads(record["body"])
            assert failure["requestContext"]["condition"] == "RetriesExhausted"
            assert failure["requestPayload"]["Records"][0]["s3"]["object"]["key"].startswith("incoming/")
        else:  # a Function URL request, as AWS sends it and the local cloud makes it
            http = event["requestContext"]["http"]
            local = function_url_event(http["method"], event["rawPath"], event["headers"],
                                       (event.get("body") or "").encode(), http["sourceIp"])
            assert set(local) <= set(event) and set(local["requestContext"]["http"]) == set(http)


def test_a_sample_that_misses_a_field_is_refused():
    with pytest.raises(ValueError, match="case_id"):
        handler_module("review").Event.model_validate({"step": "review"})
