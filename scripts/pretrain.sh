#!/usr/bin/env bash
# The main job: fetch the public-domain corpus (once), build, and pretrain ELECTRA with the default settings
# (the tiny preset on CUDA when a device is found, else on the CPU). Extra arguments go to `electra pretrain`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/get-corpus.sh data/sotu
dotnet build Electra.Train -c Release -nologo -v quiet
dotnet Electra.Train/bin/Release/net10.0/electra.dll pretrain "$@"
