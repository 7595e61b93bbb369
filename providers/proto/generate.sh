#!/usr/bin/env sh
# Regenerate the committed protobuf/gRPC modules from the .proto files.
#
# Run from anywhere: `sh providers/proto/generate.sh` (needs the test extra, which
# brings grpcio-tools). The runtime only needs grpcio + protobuf. Protos are compiled
# from the repository root so the generated gRPC module imports its messages as
# `providers.proto.tfpluginN_pb2` instead of a bare top-level module name.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3
cd "$root"
for proto in providers/proto/tfplugin5.proto providers/proto/tfplugin6.proto; do
    "$python" -m grpc_tools.protoc -I. \
        --python_out=. --pyi_out=. --grpc_python_out=. "$proto"
done
