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

    // emitted by name from variables assigned here: Nextflow 25.04's strict parser (NXF_SYNTAX_PARSER=v2, nf-lang
    // 25.04.0) drops an `emit: name = expression` assignment and the run stops with "Missing workflow output
    // parameter"
    bedgraph = BERTRBP_SCAN.out.bedgraph
    profile  = BERTRBP_SCAN.out.profile
    peaks    = BERTRBP_SCAN.out.peaks

    emit:
    bedgraph  // channel: [ val(meta), path(<id>.<id>.bedGraph) ]
    profile   // channel: [ val(meta), path(<id>.profile.tsv) ]
    peaks     // channel: [ val(meta), path(<id>.peaks.bed) ]
}
