#!/usr/bin/env bash
# Issue 15 on one GPU (bench/gpu_pretrain.py): pretrain a `small` multi-task checkpoint and fine-tune it against random
# init, in one command of under 10 minutes. The data travels in gpudata/ (.gitignore; the device tool's `carry`):
#   bash bench/gpu_pretrain.sh pack            # here: ../shared/data -> gpudata/ (about 42 MB)
#   bash bench/gpu_pretrain.sh pack-finetune   # here: only what --checkpoint runs read (eCLIP, RBP-31)
#   bash bench/gpu_pretrain.sh          # there: unpack, run, put checkpoint.tar.gz and results.tar.gz in $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=../shared/data
PACK=gpudata
# gpudata/rt/ mirrors data/ with the files decompressed: one xz archive finds the sequences the sets share; the
# device gzips them back (same content, other bytes). Files whose bytes a pretraining card records by checksum (the
# exclusion files) travel as they are.
if [ "${1:-}" = "pack" ] || [ "${1:-}" = "pack-finetune" ]; then
  rm -rf "$PACK" && mkdir -p "$PACK/data" "$PACK/rt/rbp31"
  for d in "$SRC"/rbp31/*/; do
    n=$(basename "$d")
    mkdir -p "$PACK/rt/rbp31/$n"
    zcat "$d/train.fa.gz" > "$PACK/rt/rbp31/$n/train.fa"
    if [ "$1" = "pack" ]; then  # a test set is an exclusion file of pretraining: its bytes travel as they are
      mkdir -p "$PACK/data/rbp31/$n" && cp "$d/test.fa.gz" "$PACK/data/rbp31/$n/"
    else
      zcat "$d/test.fa.gz" > "$PACK/rt/rbp31/$n/test.fa"
    fi
  done
  if [ "$1" = "pack" ]; then  # pretraining and fine-tuning (about 42 MB)
    cp -r "$SRC/eclip" "$SRC/tial1" "$SRC/reference" "$SRC/README.md" "$PACK/data/"
    mkdir -p "$PACK/data/rbp24" && cp "$SRC"/rbp24/*.ls.*.fa.gz "$PACK/data/rbp24/"
  else  # fine-tuning only (--checkpoint): no byte-exact files, everything in the archive
    mkdir -p "$PACK/rt/eclip" && cp -r "$SRC/reference" "$SRC/README.md" "$PACK/data/"
    for f in "$SRC"/eclip/*.tsv.gz; do zcat "$f" > "$PACK/rt/eclip/$(basename "$f" .gz)"; done
  fi
  tar cf - -C "$PACK" rt | xz -9 -T2 > "$PACK/data.tar.xz" && rm -rf "$PACK/rt"
  du -sh "$PACK"
  exit 0
fi
OUTDIR="${OUT:-/tmp/gpu_pretrain_out}"
RUN=/tmp/gpu_pretrain_run
rm -rf "$RUN" gpudata/rt  # a rerun on the same machine starts over (the pretraining refuses an old run folder)
mkdir -p "$OUTDIR"
python3 - <<'EOF'
import tarfile
tarfile.open("gpudata/data.tar.xz").extractall("gpudata", filter="data")
EOF
(cd gpudata/rt && find . -type f | xargs -P 16 -I{} sh -c 'mkdir -p "../data/$(dirname {})" && gzip -1 -c {} > ../data/{}.gz')
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
