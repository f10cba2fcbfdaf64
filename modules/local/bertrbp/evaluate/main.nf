// Turn predictions with known labels into metrics (AUROC, AUPRC, F1, MCC) and plots.
process BERTRBP_EVALUATE {
    tag "${meta.id}"
    label 'process_single'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-evaluate:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-evaluate:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/${task.ext.model_tag ?: 'evaluate'}", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(predictions)

    output:
    tuple val(meta), path("*.metrics.json"), emit: metrics
    tuple val(meta), path("plots"), emit: plots, optional: true
    tuple val("${task.process}"), val('bertrbp-evaluate'), eval("bertrbp-evaluate --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: (task.ext.model_tag ? "${meta.id}.${task.ext.model_tag}" : "${meta.id}")
    """
    bertrbp-evaluate \\
        ${predictions} \\
        --output ${prefix}.metrics.json \\
        --plots-dir plots \\
        --name ${prefix} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: (task.ext.model_tag ? "${meta.id}.${task.ext.model_tag}" : "${meta.id}")
    """
    echo '{}' > ${prefix}.metrics.json
    """
}
