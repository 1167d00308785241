"""Write a sealgate policy in Python.

A policy is a class with ``INFO`` and an ``evaluate`` method, exported as the
module-level name ``Policy`` of ``app.py``; ``sealgate policy build DIR``
turns it into a component with componentize-py (this package and the
contract are supplied by sealgate at build time)::

    import sealgate_policy as sg

    class OwnerTags(sg.Rules):
        INFO = sg.Info(id="acme.owner-tags", version="0.1.0",
                       summary="Every artifact has an owner tag.",
                       rules=[sg.Rule("acme.owner.missing", sg.Severity.HIGH,
                                      "the artifact has no owner tag")])

        def evaluate(self, doc, params, ctx):
            report = sg.Report()
            if not doc.str("/artifact/tags/owner"):
                report.finding("acme.owner.missing", sg.Severity.HIGH, "/artifact",
                               "no owner tag", "tag the artifact `owner`")
            return report

    Policy = sg.export(OwnerTags)

It mirrors the Rust SDK (``policies/sdk``): a :class:`Metadata` document
read by JSON Pointer, a :class:`Report` of findings, :func:`log` and
:func:`regex_is_match` from the host. An exception is an ERROR outcome whose
reason carries its type and message (the traceback goes to the policy's
log); ``print`` writes to the policy's log. A policy has nothing else: no
files, network, clock (``ctx.evaluated_at`` is the time) or randomness.
"""

import json
import sys
import traceback
from dataclasses import dataclass

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

__all__ = [
    "Context",
    "Info",
    "InvalidParams",
    "Metadata",
    "Report",
    "Rule",
    "Rules",
    "Severity",
    "export",
    "log",
    "pointer_escape",
    "regex_is_match",
    "warn",
]

#: How bad a finding is: ``INFO`` < ``LOW`` < ``MEDIUM`` < ``HIGH`` < ``CRITICAL``.
Severity = types.Severity

_SEVERITIES = {s.name.lower(): s for s in Severity}


def parse_severity(text):
    """A severity as written in params (``info`` … ``critical``)."""
    try:
        return _SEVERITIES[text]
    except (KeyError, TypeError):
        raise InvalidParams(
            f"unknown severity `{text}`: expected info, low, medium, high or critical"
        ) from None


class InvalidParams(Exception):
    """Raise from ``validate`` to refuse the gate's params (the gate does not load)."""


@dataclass(frozen=True)
class Info:
    """What a policy says about itself."""

    id: str
    version: str
    summary: str
    #: JSON Schema of the params object (a dict or JSON text).
    params_schema: object = None
    #: Every rule the policy may report (:class:`Rule` entries): the host
    #: refuses a finding no entry covers, and ``sealgate policy test
    #: --coverage`` lists the entries no case produced. Empty: no catalogue.
    rules: tuple = ()


@dataclass(frozen=True)
class Rule:
    """One entry of a policy's rule catalogue."""

    #: The rule id findings carry (``acme.owner.missing``), or a family of
    #: ids ending ``.*`` (``acme.tag.*``) for ids built from params.
    id: str
    #: The severity its findings usually carry.
    severity: object
    #: One line: what it finds.
    summary: str = ""


@dataclass(frozen=True)
class Context:
    """What the host tells a policy about this evaluation."""

    gate: str
    artifact_digest: object
    evaluated_at: str
    evaluated_at_unix: int


def pointer_escape(token):
    """One JSON Pointer reference token: ``~`` as ``~0``, ``/`` as ``~1``."""
    return str(token).replace("~", "~0").replace("/", "~1")


class Metadata:
    """The artifact's metadata document, read by RFC 6901 JSON Pointer."""

    def __init__(self, root):
        self.root = root

    def get(self, pointer, default=None):
        """The value at ``pointer`` (``""`` is the whole document), else ``default``."""
        if pointer == "":
            return self.root
        if not pointer.startswith("/"):
            return default
        value = self.root
        for raw in pointer[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(value, dict) and token in value:
                value = value[token]
            elif isinstance(value, list) and token.isdigit() and (token == "0" or not token.startswith("0")):
                index = int(token)
                if index >= len(value):
                    return default
                value = value[index]
            else:
                return default
        return value

    def str(self, pointer):
        """The string at ``pointer``, stripped; ``None`` if absent, empty or not a string."""
        value = self.get(pointer)
        if isinstance(value, str) and value.strip():
            return value.strip()
        return None

    def items(self, pointer):
        """``(pointer, value)`` of each element of the array or object at ``pointer``."""
        value = self.get(pointer)
        if isinstance(value, list):
            return [(f"{pointer}/{i}", v) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return [(f"{pointer}/{pointer_escape(k)}", v) for k, v in value.items()]
        return []


class Report:
    """The findings of one evaluation. Passes unless :meth:`fail` is called;
    the gate fails a policy on a finding at or above its ``fail-on``."""

    def __init__(self):
        self.findings = []
        self.failed = False

    def finding(self, rule_id, severity, pointer, message, remediation=""):
        """Record a finding at ``pointer`` (a JSON Pointer into the document)."""
        if isinstance(severity, str):
            severity = parse_severity(severity)
        self.findings.append(
            types.Finding(
                rule_id=str(rule_id),
                severity=severity,
                pointer=str(pointer),
                message=str(message),
                remediation=str(remediation),
            )
        )
        return self

    def fail(self):
        """Fail the verdict whatever the severities."""
        self.failed = True
        return self

    def __len__(self):
        return len(self.findings)


class Rules:
    """Subclass it: set ``INFO``, override ``evaluate`` (and ``validate``)."""

    INFO = Info(id="example.policy", version="0.1.0", summary="")

    def validate(self, params):
        """Check the gate's params (a dict); raise :class:`InvalidParams` to refuse them."""

    def evaluate(self, doc, params, ctx):
        """Judge ``doc`` (a :class:`Metadata`); return a :class:`Report`."""
        raise NotImplementedError("a policy overrides evaluate")


def log(message):
    """Write a line to the evaluation's log (bounded by the host)."""
    host.log(host.LogLevel.INFO, str(message))


def warn(message):
    """Write a warning to the evaluation's log."""
    host.log(host.LogLevel.WARN, str(message))


def regex_is_match(pattern, text):
    """Does ``pattern`` (Rust regex syntax) match in ``text``? The host compiles
    and caches it; an invalid or oversized pattern raises ``ValueError``."""
    try:
        return host.regex_is_match(pattern, text)
    except Err as e:
        raise ValueError(str(e.value)) from None


class _HostLog:
    """``print`` and ``sys.stderr`` into the policy's log, a line at a time
    (the component has no stdout: WASI is stubbed out)."""

    def __init__(self, level):
        self.level = level
        self.pending = ""

    def write(self, text):
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            host.log(self.level, line)
        return len(text)

    def flush(self):
        if self.pending:
            host.log(self.level, self.pending)
            self.pending = ""


def _route_output():
    if not isinstance(sys.stdout, _HostLog):
        sys.stdout = _HostLog(host.LogLevel.INFO)
        sys.stderr = _HostLog(host.LogLevel.WARN)


def _fault(e):
    """An exception as the ERROR reason; where it was raised to the log.

    Frames are named by file, line and function only: formatting a
    traceback the usual way reads the source files, and a policy has no
    files (the read would trap and lose the exception)."""
    host.log(host.LogLevel.ERROR, f"{type(e).__name__}: {e}")
    for frame, line in traceback.walk_tb(e.__traceback__):
        code = frame.f_code
        host.log(host.LogLevel.ERROR, f"  at {code.co_filename}:{line} in {code.co_name}")
    return Err(f"{type(e).__name__}: {e}")


def _params(text):
    params = json.loads(text)
    if not isinstance(params, dict):
        raise InvalidParams("params must be a table")
    return params


def export(rules_class):
    """The class componentize-py exports as the ``policy`` interface: name it
    ``Policy`` in ``app.py`` (``Policy = sealgate_policy.export(MyRules)``)."""

    info = rules_class.INFO
    schema = info.params_schema
    schema_text = schema if isinstance(schema, str) else json.dumps(schema if schema is not None else {"type": "object"})

    class Policy(exports.Policy):
        def info(self):
            return types.PolicyInfo(
                id=info.id,
                version=info.version,
                summary=info.summary,
                params_schema=schema_text,
                rules=[types.RuleInfo(id=r.id, severity=r.severity, summary=r.summary) for r in info.rules],
            )

        def validate_params(self, params):
            _route_output()
            try:
                rules_class().validate(_params(params))
            except InvalidParams as e:
                raise Err(str(e)) from None
            except json.JSONDecodeError as e:
                raise Err(f"params are not JSON: {e}") from None
            except Exception as e:
                raise _fault(e) from None

        def evaluate(self, metadata, params, context):
            _route_output()
            try:
                ctx = Context(
                    gate=context.gate,
                    artifact_digest=context.artifact_digest,
                    evaluated_at=context.evaluated_at,
                    evaluated_at_unix=context.evaluated_at_unix,
                )
                report = rules_class().evaluate(Metadata(json.loads(metadata)), _params(params), ctx)
                if not isinstance(report, Report):
                    raise TypeError(f"evaluate returned {type(report).__name__}, not a Report")
                sys.stdout.flush()
                return types.Verdict(passed=not report.failed, findings=report.findings)
            except Exception as e:
                raise _fault(e) from None

    return Policy
