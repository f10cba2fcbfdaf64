// Attribute a fine-tuned model's predictions to nucleotides (integrated gradients, mutagenesis); motif summary.
process BERTRBP_ATTRIBUTE {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-attribute:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-attribute:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(model), path(sequences)

    output:
    tuple val(meta), path("attribution"), emit: attribution
    tuple val(meta), path("attribution/motif_summary.tsv"), emit: motifs
    tuple val("${task.process}"), val('bertrbp-attribute'), eval("bertrbp-attribute --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    """
    bertrbp-attribute \\
        ${sequences} \\
        --model ${model} \\
        --output-dir attribution \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p attribution
    touch attribution/predictions.tsv attribution/motif_summary.tsv
    """
}
