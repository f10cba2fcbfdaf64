// Predict RNA secondary structure and per-token structure labels for attention analysis.
process BERTRBP_FOLD {
    tag "${meta.id}"
    label 'process_medium'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-fold:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-fold:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/fold", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(sequences)

    output:
    tuple val(meta), path("*.structures.tsv"), emit: structures
    tuple val(meta), path("*.token_structure.tsv"), emit: token_labels
    tuple val("${task.process}"), val('bertrbp-fold'), eval("bertrbp-fold --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    bertrbp-fold \\
        ${sequences} \\
        --output ${prefix}.structures.tsv \\
        --token-labels ${prefix}.token_structure.tsv \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.structures.tsv ${prefix}.token_structure.tsv
    """
}
