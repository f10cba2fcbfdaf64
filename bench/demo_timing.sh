#!/bin/bash
# The demo's tool sequence (scripts/demo.sh, non-Nextflow branch) with --threads 1 where the tool takes it, each
# step timed (user, sys, wall seconds) to estimate the run time on 2 unshared cores from CPU time.
set -e
cd "$(dirname "$0")/.."; B=bin; P=.venv/bin/python; OUT=${OUT:-/tmp/demo_t}; rm -rf $OUT
T() { name=$1; shift; /usr/bin/time -f "$name %U %S %e" -a -o $OUT/times.txt "$@"; }
mkdir -p $OUT; uptime > $OUT/uptime_before.txt
for rbp in HNRNPK_K562 UCHL5_K562; do
  d=$OUT/$rbp; input=assets/demo/$rbp.tsv
  T prepare $P $B/bertrbp-prepare $input --output-dir $d/prepare --prefix $rbp --test-size 0.25 --seed 42 > $d.prepare.log 2>&1
  T finetune $P $B/bertrbp-finetune --train $d/prepare/$rbp.train.fa --output-dir $d/finetune --model tiny --val-fraction 0.2 --seed 42 --threads 1 > $d.ft.log 2>&1
  T predict $P $B/bertrbp-predict --model $d/finetune/model $d/prepare/$rbp.test.fa -o $d/predictions.tsv --threads 1 > $d.pr.log 2>&1
  T evaluate $P $B/bertrbp-evaluate $d/predictions.tsv -o $d/metrics.json --plots-dir $d/plots --name $rbp > $d.ev.log 2>&1
  T fold $P $B/bertrbp-fold $d/prepare/$rbp.nontrain.fa -o $d/structures.tsv --token-labels $d/token_structure.tsv --threads 1 > $d.fold.log 2>&1
  T attention $P $B/bertrbp-attention-stats --model $d/finetune/model --sequences $d/prepare/$rbp.nontrain.fa --token-labels $d/token_structure.tsv --output-dir $d/attention --threads 1 > $d.att.log 2>&1
  echo "$rbp test_auroc=$(grep '"auroc"' $d/metrics.json | tr -dc '0-9.') $(grep -m3 '"collapsed"\|"stalled"\|"kept_epoch"' $d/finetune/metrics.json | tr -d ' \n')" >> $OUT/result.txt
done
T summary $P $B/bertrbp-summary $OUT/HNRNPK_K562/metrics.json $OUT/UCHL5_K562/metrics.json --output-dir $OUT/summary > $OUT/summary.log 2>&1
uptime > $OUT/uptime_after.txt
