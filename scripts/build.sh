#!/usr/bin/env bash
# Publishes skiffd, skiff and skiff-runtime with NativeAOT into out/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out/bin
for p in src/Skiff.Runtime.Cli src/Skiff.Daemon.Host src/Skiff.Cli; do
  dotnet publish "$p" -c Release -o out/bin -p:DebugType=none --nologo -v quiet
done
rm -f out/bin/*.dbg
