#!/usr/bin/env bash
# Issue 15 on one GPU (bench/gpu_pretrain.py): pretrain a `small` multi-task checkpoint and fine-tune it against random
# init, in one command of under 10 minutes. The data travels in gpudata/ (.gitignore; the device tool's `carry`):
#   bash bench/gpu_pretrain.sh pack     # here: ../shared/data -> gpudata/ (about 42 MB; RBP-31 training sets as xz)
#   bash bench/gpu_pretrain.sh          # there: unpack, run, put checkpoint.tar.gz and results.tar.gz in $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=../shared/data
PACK=gpudata
if [ "${1:-}" = "pack" ]; then
  rm -rf "$PACK" && mkdir -p "$PACK/data/rbp31" "$PACK/rt"
  cp -r "$SRC/eclip" "$SRC/tial1" "$SRC/reference" "$SRC/README.md" "$PACK/data/"
  mkdir -p "$PACK/data/rbp24" && cp "$SRC"/rbp24/*.ls.*.fa.gz "$PACK/data/rbp24/"
  for d in "$SRC"/rbp31/*/; do
    n=$(basename "$d")
    mkdir -p "$PACK/data/rbp31/$n" "$PACK/rt/$n"
    cp "$d/test.fa.gz" "$PACK/data/rbp31/$n/"
    zcat "$d/train.fa.gz" > "$PACK/rt/$n/train.fa"
  done
  # one archive: the RBP-31 training sets share many sequences, which xz's window finds across files
  tar cf - -C "$PACK" rt | xz -9 -T2 > "$PACK/rbp31_train.tar.xz" && rm -rf "$PACK/rt"
  du -sh "$PACK"
  exit 0
fi
OUTDIR="${OUT:-/tmp/gpu_pretrain_out}"
RUN=/tmp/gpu_pretrain_run
rm -rf "$RUN" gpudata/rt  # a rerun on the same machine starts over (the pretraining refuses an old run folder)
mkdir -p "$OUTDIR"
python3 - <<'EOF'
import tarfile
tarfile.open("gpudata/rbp31_train.tar.xz").extractall("gpudata", filter="data")
EOF
ls gpudata/rt | xargs -P 16 -I{} sh -c 'gzip -1 -c gpudata/rt/{}/train.fa > gpudata/data/rbp31/{}/train.fa.gz'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
export PYTHONPATH="$PWD/bin" PYTHONUNBUFFERED=1 TQDM_DISABLE=1 HF_HUB_OFFLINE=1
python3 -c 'import torch, transformers, sklearn, typer; print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())'
set +e
timeout "${GPU_PRETRAIN_TIMEOUT:-560}" python3 bench/gpu_pretrain.py --out "$RUN" --data "$PWD/gpudata/data" "$@" 2>&1 \
  | tee "$OUTDIR/gpu_pretrain.log"
status=${PIPESTATUS[0]}
set -e
if [ -d "$RUN/pretrain/model" ]; then
  (cd "$RUN/pretrain" && tar czf "$OUTDIR/checkpoint.tar.gz" --exclude=checkpoints --exclude=task_heads.safetensors .)
fi
(cd "$RUN" && tar czf "$OUTDIR/results.tar.gz" --exclude=work --exclude=pretrain .)
ls -la "$OUTDIR"
exit "$status"  # what finished is packed either way; the exit status says whether everything did
