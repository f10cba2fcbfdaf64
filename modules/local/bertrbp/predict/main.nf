// Score held-out sequences with a fine-tuned model (probability and log-odds per sequence).
process BERTRBP_PREDICT {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-predict:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-predict:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/${task.ext.model_tag ?: 'predict'}", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(model), path(sequences)

    output:
    tuple val(meta), path("*.predictions.tsv"), emit: predictions
    tuple val("${task.process}"), val('bertrbp-predict'), eval("bertrbp-predict --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: (task.ext.model_tag ? "${meta.id}.${task.ext.model_tag}" : "${meta.id}")
    """
    bertrbp-predict \\
        --model ${model} \\
        ${sequences} \\
        --output ${prefix}.predictions.tsv \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: (task.ext.model_tag ? "${meta.id}.${task.ext.model_tag}" : "${meta.id}")
    """
    printf 'id\\tprobability\\tlogit\\tlabel\\n' > ${prefix}.predictions.tsv
    """
}
