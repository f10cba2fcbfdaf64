// Variants mode: score the reference and alternate window of every VCF variant with each given fine-tuned
// model, on the transcript strand from a BED or GTF when one is given.

include { BERTRBP_VARIANT_EFFECT } from '../modules/local/bertrbp/variant_effect'

workflow VARIANTS {
    take:
    ch_models   // channel: [ val(meta), path(model dir) ]
    vcf         // value: VCF of SNVs and short indels
    genome      // value: genome FASTA the VCF refers to
    strand_bed  // value: BED of transcribed features (strand), or []
    gtf         // value: GTF giving the strand, or []

    main:
    BERTRBP_VARIANT_EFFECT(ch_models.map { meta, model -> [meta, model, vcf, genome, strand_bed, gtf] })

    // emitted by name from variables assigned here: Nextflow 25.04's strict parser (NXF_SYNTAX_PARSER=v2, nf-lang
    // 25.04.0) drops an `emit: name = expression` assignment and the run stops with "Missing workflow output
    // parameter"
    effects = BERTRBP_VARIANT_EFFECT.out.effects
    skipped = BERTRBP_VARIANT_EFFECT.out.skipped

    emit:
    effects  // channel: [ val(meta), path(<id>.variant_effects.tsv) ]
    skipped  // channel: [ val(meta), path(<id>.variant_effects.skipped.tsv) ]
}
