"""The Workflows port in memory: it runs `statemachine/refund_workflow.asl.json` and
`statemachine/ledger_fanout.asl.json` themselves, the one copy of each flow, calling the real use-cases for
their Task states.

What it follows of the Amazon States Language is what the definitions use: Task (plain and
`.waitForTaskToken`), Choice (`StringEquals`, `IsPresent`, `And`), Map (its items one after another, each
through its ItemProcessor; a failed item fails the Map as a Distributed Map without a tolerated failure
does), Wait, Pass, Succeed, Fail;
`Parameters`, `ResultSelector`, `ResultPath` (null too), `Retry` and `Catch` by error name. A function's
error is named as Lambda names it: the exception's class, `Sandbox.Timedout` for a crash.

Executions run when a test says so (`run()`), as Step Functions runs them after the call that started
or answered them returns; a task waiting for its token stays waiting until `answer`, `fail_task` or
`time_out`. Nothing sleeps: a wait's seconds are kept (`waits`), not spent.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from creditrefunds.adapters.workflows import run_name

Step = Callable[[dict[str, Any]], dict[str, Any]]
RUNTIME_ERROR = "States.Runtime"
MAP_FAILED = "States.ExceedToleratedFailureThreshold"  # a Distributed Map whose item failed


class Crash(Exception):
    """A function that died half-way (its process ended): Lambda reports `Sandbox.Timedout`."""


class TransientError(Exception):
    """A throttle or service error the client gave up retrying: the handlers raise it by this name, and the
    state machine retries it."""


class LostReply(Exception):
    """Not raised: a fault of this kind lets the call land, loses its answer, and makes it again as the client's
    retry does after a network blip (the answer the caller sees is the second call's)."""


def error_name(error: BaseException) -> str:
    return "Sandbox.Timedout" if isinstance(error, Crash) else type(error).__name__


@dataclass
class Execution:
    name: str
    machine: str
    data: dict[str, Any]
    state: str
    status: str = "RUNNING"
    token: str | None = None  # the task token it waits on
    resume: tuple[str, Any] | None = None  # how its waiting task ended: ("success", output) or ("failure", error)
    error: str = ""  # why it failed without a Catch (States.Runtime)


def _get(document: Any, path: str, context: dict[str, Any]) -> Any:
    """A JSONPath of the simple kind the definition uses: `$.a.b` or `$$.Task.Token`."""
    root, rest = (context, path[3:]) if path.startswith("$$.") else (document, path[2:])
    value = root
    for part in filter(None, rest.split(".")):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def _fill(template: Any, document: Any, context: dict[str, Any]) -> Any:
    """`Parameters` or `ResultSelector` with every `key.$` replaced by its path's value."""
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k): (_get(document, v, context) if k.endswith(".$")
                                                      else _fill(v, document, context)) for k, v in template.items()}
    return template


def _put(document: dict[str, Any], path: str | None, value: Any) -> dict[str, Any]:
    """`ResultPath`: the result placed in the state's input (`$` replaces it, null drops the result)."""
    if path is None:
        return document
    if path == "$":
        return value
    out = json.loads(json.dumps(document))
    target = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return out


def _matches(rule: dict[str, Any], document: Any) -> bool:
    if "And" in rule:
        return all(_matches(r, document) for r in rule["And"])
    try:
        value = _get(document, rule["Variable"], {})
    except KeyError:
        return "IsPresent" in rule and not rule["IsPresent"]
    if "IsPresent" in rule:
        return bool(rule["IsPresent"])
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    raise NotImplementedError(f"choice rule {sorted(rule)}")


def _catches(names: list[str], error: str) -> bool:
    return error in names or ("States.ALL" in names and error != RUNTIME_ERROR)


class MemoryWorkflows:
    """Executions of the refund workflow and of the ledger fan-out (each fan-out's input kept for a test too)."""

    def __init__(self, definition: dict[str, Any], steps: dict[str, Step],
                 fan_out: dict[str, Any] | None = None) -> None:
        self._definition = definition
        self._machines = {"refund": definition, "fan-out": fan_out}
        self._steps = steps  # by the definition's placeholder: "ReviewFunctionArn" -> the step
        self.executions: dict[str, Execution] = {}
        self.fan_outs: dict[str, dict[str, Any]] = {}
        self.waits: list[tuple[str, int]] = []  # (execution, seconds) of each Wait state passed
        self._ready: deque[str] = deque()
        self._tokens = (f"token-{n}" for n in itertools.count(1))
        self._lock = threading.RLock()
        self.running_step: str | None = None  # the function running now, by logical id (for faults)
        self._answered: set[str] = set()  # tokens a task took: answered again, the answer is "maybe yours"

    # --- the port ---
    def start_case(self, case_id: str, run: int = 0, resume: str | None = None) -> bool:
        name = run_name(case_id, run)
        with self._lock:
            if name in self.executions:
                return False
            data = {"case_id": case_id, **({"resume": resume} if resume else {})}
            self.executions[name] = Execution(name, "refund", data, self._definition["StartAt"])
            self._ready.append(name)
            return True

    def state(self, case_id: str, run: int = 0) -> str | None:
        with self._lock:
            found = self.executions.get(run_name(case_id, run))
            return found.status if found else None

    def start_fan_out(self, name: str, payload: dict[str, Any]) -> bool:
        with self._lock:
            if name in self.fan_outs:
                return False
            self.fan_outs[name] = payload
            if self._machines["fan-out"] is not None:
                self.executions[name] = Execution(name, "fan-out", dict(payload), self._machines["fan-out"]["StartAt"])
                self._ready.append(name)
            return True

    def answer(self, task_token: str, output: dict[str, Any]) -> bool | None:
        """None: the task took an answer already, as the adapter says when the client's retry heard "gone" after
        its first attempt had landed."""
        if self._settle(task_token, ("success", output)):
            self._answered.add(task_token)
            return True
        return None if task_token in self._answered else False

    def fail_task(self, task_token: str, error: str, cause: str) -> bool:
        return self._settle(task_token, ("failure", error))

    # --- what a test drives ---
    def run(self, limit: int = 1000) -> None:
        """Run every execution that can move until each waits for a token or has ended."""
        for _ in range(limit):
            with self._lock:
                if not self._ready:
                    return
                execution = self.executions[self._ready.popleft()]
            self._advance(execution)
        raise AssertionError("the workflows kept moving: a loop?")

    def time_out(self, case_id: str) -> bool:
        """The approval's wait ran out (`TimeoutSecondsPath`): the waiting task ends with States.Timeout."""
        execution = self.latest(case_id)
        return execution is not None and execution.token is not None and \
            self._settle(execution.token, ("failure", "States.Timeout"))

    def latest(self, case_id: str) -> Execution | None:
        with self._lock:
            runs = [e for e in self.executions.values() if e.data.get("case_id") == case_id]
            return runs[-1] if runs else None

    def waiting(self, case_id: str) -> bool:
        execution = self.latest(case_id)
        return execution is not None and execution.token is not None

    def _settle(self, token: str, outcome: tuple[str, Any]) -> bool:
        with self._lock:
            for execution in self.executions.values():
                if execution.token == token and execution.status == "RUNNING":
                    execution.token, execution.resume = None, outcome
                    self._ready.append(execution.name)
                    return True
            return False

    def _advance(self, execution: Execution, states: dict[str, Any] | None = None) -> None:
        states = states or self._machines[execution.machine]["States"]
        while execution.status == "RUNNING":
            state = states[execution.state]
            if execution.resume is not None:  # a waiting task ended
                (kind, value), execution.resume = execution.resume, None
                if kind == "success":
                    self._next(execution, state, _put(execution.data, state.get("ResultPath", "$"), value))
                else:
                    self._catch(execution, state, value, "")
                continue
            try:
                if not self._enter(execution, state):
                    return  # waits for its token
            except KeyError as missing:  # a path the state names is not in its input
                execution.status, execution.error = "FAILED", f"{RUNTIME_ERROR}: no {missing} in the input"

    def _enter(self, execution: Execution, state: dict[str, Any]) -> bool:
        """Run one state; False when it now waits for its task token. A missing path raises KeyError, which
        fails the execution as States.Runtime does: no Catch takes it (`States.ALL` leaves it out)."""
        kind = state["Type"]
        if kind == "Task":
            return self._task(execution, state)
        if kind == "Map":
            self._map(execution, state)
        elif kind == "Choice":
            execution.state = next((c["Next"] for c in state["Choices"] if _matches(c, execution.data)),
                                   state.get("Default", ""))
        elif kind == "Wait":
            self.waits.append((execution.name, int(_get(execution.data, state["SecondsPath"], {}))))
            execution.state = state["Next"]
        elif kind == "Pass":
            self._next(execution, state, _put(execution.data, state.get("ResultPath", "$"), state["Result"])
                       if "Result" in state else execution.data)
        elif kind == "Succeed":
            execution.status = "SUCCEEDED"
        elif kind == "Fail":
            execution.status = "FAILED"
        else:
            raise NotImplementedError(kind)
        return True

    def _next(self, execution: Execution, state: dict[str, Any], data: dict[str, Any]) -> None:
        execution.data = data
        if state.get("End"):
            execution.status = "SUCCEEDED"
        else:
            execution.state = state["Next"]

    def _map(self, execution: Execution, state: dict[str, Any]) -> None:
        """Each item through the ItemProcessor (to its end, no waiting tasks in it); the results in item order."""
        results = []
        processor = state["ItemProcessor"]
        for item in _get(execution.data, state["ItemsPath"], {}):
            data = _fill(state["ItemSelector"], execution.data, {"Map": {"Item": {"Value": item}}})
            inner = Execution(f"{execution.name}/item", execution.machine, data, processor["StartAt"])
            self._advance(inner, processor["States"])
            if inner.status != "SUCCEEDED":
                self._catch(execution, state, MAP_FAILED, json.dumps({"cause": inner.error}))
                return
            results.append(inner.data)
        self._next(execution, state, _put(execution.data, state.get("ResultPath", "$"), results))

    def _task(self, execution: Execution, state: dict[str, Any]) -> bool:
        """Invoke the task's function (retried as its Retry says); False when it now waits for its token."""
        waits = state["Resource"].endswith(".waitForTaskToken")
        step = state["Parameters"]["FunctionName"].strip("${}")
        tries: dict[int, int] = {}
        while True:
            token = next(self._tokens) if waits else None
            payload = _fill(state["Parameters"], execution.data, {"Task": {"Token": token}})["Payload"]
            try:
                self.running_step = step.removesuffix("Arn")  # the function, by its logical id
                result = self._steps[step](payload)
            except Exception as error:
                name = error_name(error)
                retry = next((i for i, r in enumerate(state.get("Retry", [])) if _catches(r["ErrorEquals"], name)),
                             None)
                if retry is not None and tries.get(retry, 0) < state["Retry"][retry].get("MaxAttempts", 3):
                    tries[retry] = tries.get(retry, 0) + 1
                    continue
                cause = json.dumps({"errorMessage": str(error), "errorType": name})
                self._catch(execution, state, name, cause)
                return True
            finally:
                self.running_step = None
            if waits:
                execution.token = token
                return False
            selected = _fill(state["ResultSelector"], {"Payload": result}, {}) if "ResultSelector" in state \
                else {"Payload": result}
            self._next(execution, state, _put(execution.data, state.get("ResultPath", "$"), selected))
            return True

    def _catch(self, execution: Execution, state: dict[str, Any], error: str, cause: str) -> None:
        for catcher in state.get("Catch", []):
            if _catches(catcher["ErrorEquals"], error):
                execution.data = _put(execution.data, catcher.get("ResultPath", "$"), {"Error": error, "Cause": cause})
                execution.state = catcher["Next"]
                return
        execution.status, execution.error = "FAILED", f"{error}: {cause}"
