// Score the reference and alternate window of each VCF variant with a fine-tuned model (delta probability, logit).
process BERTRBP_VARIANT_EFFECT {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-variant-effect:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-variant-effect:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/variant_effect", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(model), path(vcf), path(genome), path(strand_bed), path(gtf)

    output:
    tuple val(meta), path("*.variant_effects.tsv"), emit: effects
    tuple val(meta), path("*.variant_effects.skipped.tsv"), emit: skipped
    tuple val("${task.process}"), val('bertrbp-variant-effect'), eval("bertrbp-variant-effect --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def strand_arg = strand_bed ? "--strand-bed ${strand_bed}" : ''
    def gtf_arg = gtf ? "--gtf ${gtf}" : ''
    """
    bertrbp-variant-effect \\
        --model ${meta.id}=${model} \\
        --vcf ${vcf} \\
        --genome ${genome} \\
        ${strand_arg} \\
        ${gtf_arg} \\
        --output ${prefix}.variant_effects.tsv \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.variant_effects.tsv ${prefix}.variant_effects.skipped.tsv
    """
}
