"""A tiny protocol-6 provider in Python, for exercising the runtime without Terraform.

Run as a go-plugin: checks the magic cookie, serves tfplugin6 on a unix socket and
prints the handshake line. It manages ``fake_thing`` objects in memory and has a
``fake_echo`` data source. Special names make it misbehave on purpose:

- ``bad-plan``  plans a different ``name`` than configured (invalid plan);
- ``bad-apply`` returns a different ``name`` after apply (inconsistent result);
- ``wo-leak``   plans a value for the write-only attribute;
- ``drifty-*``  plans a different ``size`` every time (inconsistent final plan);
- ``crash``     exits the process in the middle of PlanResourceChange.

Private data counts generations (``{"gen": n}``) so tests can follow it through
plan → apply → state → read → plan.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from providers import codec
from providers.proto import tfplugin6_pb2 as pb
from providers.proto import tfplugin6_pb2_grpc as pb_grpc
from providers.schema import Schema, schema_from_json

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

THING: dict[str, Any] = {
    "version": 1,
    "block": {
        "attributes": [
            {"name": "id", "type": "string", "computed": True},
            {"name": "name", "type": "string", "required": True},
            {"name": "size", "type": "number", "optional": True, "computed": True},
            {"name": "tags", "type": ["map", "string"], "optional": True},
            {"name": "secret", "type": "string", "optional": True, "sensitive": True},
            {"name": "password_wo", "type": "string", "optional": True, "write_only": True},
            {
                "name": "items",
                "optional": True,
                "nested_type": {
                    "nesting": "list",
                    "attributes": [
                        {"name": "label", "type": "string", "required": True},
                        {"name": "serial", "type": "string", "computed": True},
                    ],
                },
            },
        ]
    },
}
ECHO: dict[str, Any] = {
    "version": 0,
    "block": {
        "attributes": [
            {"name": "input", "type": "string", "required": True},
            {"name": "output", "type": "string", "computed": True},
        ]
    },
}


def _attr(d: dict[str, Any]) -> pb.Schema.Attribute:
    out = pb.Schema.Attribute(
        name=d["name"],
        required=d.get("required", False),
        optional=d.get("optional", False),
        computed=d.get("computed", False),
        sensitive=d.get("sensitive", False),
        write_only=d.get("write_only", False),
    )
    if "nested_type" in d:
        nt = d["nested_type"]
        out.nested_type.CopyFrom(
            pb.Schema.Object(
                nesting=nt["nesting"].upper(),
                attributes=[_attr(a) for a in nt["attributes"]],
            )
        )
    else:
        out.type = json.dumps(d["type"]).encode()
    return out


def _schema(d: dict[str, Any]) -> pb.Schema:
    return pb.Schema(
        version=d["version"],
        block=pb.Schema.Block(attributes=[_attr(a) for a in d["block"]["attributes"]]),
    )


class FakeProvider(pb_grpc.ProviderServicer):
    def __init__(self) -> None:
        self.thing: Schema = schema_from_json(THING)
        self.echo: Schema = schema_from_json(ECHO)
        self.objects: dict[str, Any] = {}
        self.plans = 0
        self.configured = False

    # -- helpers -------------------------------------------------------------------------
    def _dec(self, dv: Any, schema: Schema) -> Any:
        return codec.decode(dv.msgpack, schema.implied_type)

    def _dv(self, value: Any, schema: Schema) -> pb.DynamicValue:
        return pb.DynamicValue(msgpack=codec.encode(value, schema.implied_type))

    @staticmethod
    def _error(summary: str, attribute: str | None = None) -> pb.Diagnostic:
        diag = pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary)
        if attribute:
            diag.attribute.steps.add(attribute_name=attribute)
        return diag

    @staticmethod
    def _gen(private: bytes) -> int:
        return int(json.loads(private)["gen"]) if private else 0

    # -- RPCs ------------------------------------------------------------------------
    async def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return pb.GetProviderSchema.Response(
            provider=pb.Schema(block=pb.Schema.Block()),
            resource_schemas={"fake_thing": _schema(THING)},
            data_source_schemas={"fake_echo": _schema(ECHO)},
            server_capabilities=pb.ServerCapabilities(
                plan_destroy=True, get_provider_schema_optional=True
            ),
        )

    async def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    async def ConfigureProvider(self, request: Any, context: Any) -> Any:
        self.configured = True
        return pb.ConfigureProvider.Response()

    async def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        config = self._dec(request.config, self.thing)
        diags = []
        if config.get("name") == "invalid":
            diags.append(self._error("name must not be 'invalid'", "name"))
        return pb.ValidateResourceConfig.Response(diagnostics=diags)

    async def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    async def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        raw = json.loads(request.raw_state.json)
        if request.version == 0 and "label" in raw:  # schema v0 called it "label"
            raw["name"] = raw.pop("label")
        value = codec.from_wire(raw, self.thing.implied_type)
        return pb.UpgradeResourceState.Response(upgraded_state=self._dv(value, self.thing))

    async def ReadResource(self, request: Any, context: Any) -> Any:
        current = self._dec(request.current_state, self.thing)
        stored = self.objects.get(current["id"]) if current else None
        return pb.ReadResource.Response(
            new_state=self._dv(stored, self.thing), private=request.private
        )

    async def PlanResourceChange(self, request: Any, context: Any) -> Any:
        self.plans += 1
        prior = self._dec(request.prior_state, self.thing)
        proposed = self._dec(request.proposed_new_state, self.thing)
        if proposed is None:
            return pb.PlanResourceChange.Response(
                planned_state=self._dv(None, self.thing), planned_private=request.prior_private
            )
        planned = dict(proposed)
        name = planned["name"]
        if name == "crash":
            os._exit(3)
        if prior is None:
            planned["id"] = codec.UNKNOWN
        if planned["size"] is None:
            planned["size"] = 1
        if isinstance(name, str) and name.startswith("drifty"):
            planned["size"] = 100 + self.plans
        if planned["items"] not in (None, codec.UNKNOWN):
            planned["items"] = [
                {**i, "serial": codec.UNKNOWN if i["serial"] is None else i["serial"]}
                for i in planned["items"]
            ]
        planned["password_wo"] = "leaked" if name == "wo-leak" else None
        if name == "bad-plan":
            planned["name"] = "something-else"
        replace = []
        if prior is not None and prior["name"] != planned["name"]:
            replace.append(pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name="name")]))
        private = request.prior_private or json.dumps({"gen": 0}).encode()
        return pb.PlanResourceChange.Response(
            planned_state=self._dv(planned, self.thing),
            requires_replace=replace,
            planned_private=private,
        )

    async def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        prior = self._dec(request.prior_state, self.thing)
        planned = self._dec(request.planned_state, self.thing)
        if planned is None:
            self.objects.pop(prior["id"], None)
            return pb.ApplyResourceChange.Response(new_state=self._dv(None, self.thing))
        new = dict(planned)
        if new["id"] is codec.UNKNOWN:
            new["id"] = f"id-{new['name']}"
        if new["items"]:
            new["items"] = [
                {**i, "serial": f"s-{i['label']}" if i["serial"] is codec.UNKNOWN else i["serial"]}
                for i in new["items"]
            ]
        if new["name"] == "bad-apply":
            new["name"] = "changed-by-provider"
        self.objects[new["id"]] = new
        private = json.dumps({"gen": self._gen(request.planned_private) + 1}).encode()
        if prior is None and new["size"] == 13:
            # Created, then a later step failed: the object exists half-made (tainted).
            return pb.ApplyResourceChange.Response(
                new_state=self._dv(new, self.thing),
                private=private,
                diagnostics=[self._error("created, but sizing it to 13 failed", "size")],
            )
        return pb.ApplyResourceChange.Response(new_state=self._dv(new, self.thing), private=private)

    async def ImportResourceState(self, request: Any, context: Any) -> Any:
        partial = {**codec.from_wire({}, self.thing.implied_type), "id": request.id}
        return pb.ImportResourceState.Response(
            imported_resources=[
                pb.ImportResourceState.ImportedResource(
                    type_name="fake_thing", state=self._dv(partial, self.thing)
                )
            ]
        )

    async def ReadDataSource(self, request: Any, context: Any) -> Any:
        config = self._dec(request.config, self.echo)
        state = {"input": config["input"], "output": str(config["input"]).upper()}
        return pb.ReadDataSource.Response(state=self._dv(state, self.echo))

    async def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()


async def serve() -> None:
    if os.environ.get("TF_PLUGIN_MAGIC_COOKIE") != COOKIE:
        print("This binary is a plugin. These are not meant to be executed directly.")
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "6").split(",")
    if "6" not in versions:
        sys.exit("protocol 6 not offered")
    sock_dir = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.mkdtemp()
    sock = Path(sock_dir) / f"fake-{os.getpid()}.sock"
    server = grpc.aio.server()
    pb_grpc.add_ProviderServicer_to_server(FakeProvider(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix:{sock}")
    await server.start()
    print(f"1|6|unix|{sock}|grpc|", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve())
