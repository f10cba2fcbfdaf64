// Scan mode: slide each given fine-tuned model along sequences of any length (a FASTA, or BED regions of a
// genome) and write its per-nucleotide binding profile (bedGraph, TSV) and peaks (BED).

include { BERTRBP_SCAN } from '../modules/local/bertrbp/scan'

workflow SCAN {
    take:
    ch_models   // channel: [ val(meta), path(model dir) ]
    sequences   // value: FASTA to scan, or [] with regions + genome
    regions     // value: BED regions (strand in column 6), or []
    genome      // value: genome FASTA of the regions, or []

    main:
    BERTRBP_SCAN(ch_models.map { meta, model -> [meta, model, sequences, regions, genome] })

    emit:
    bedgraph = BERTRBP_SCAN.out.bedgraph   // channel: [ val(meta), path(<id>.<id>.bedGraph) ]
    profile  = BERTRBP_SCAN.out.profile    // channel: [ val(meta), path(<id>.profile.tsv) ]
    peaks    = BERTRBP_SCAN.out.peaks      // channel: [ val(meta), path(<id>.peaks.bed) ]
}
