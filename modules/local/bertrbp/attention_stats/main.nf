// Relate a fine-tuned model's attention to structure and region labels of its sequences.
process BERTRBP_ATTENTION_STATS {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-attention-stats:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-attention-stats:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(model), path(sequences), path(token_labels), path(sequence_labels), path(compare_model, stageAs: 'compare/*')

    output:
    tuple val(meta), path("attention_stats"), emit: stats
    tuple val("${task.process}"), val('bertrbp-attention-stats'), eval("bertrbp-attention-stats --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def token_args = token_labels ? token_labels.collect { labels -> "--token-labels ${labels}" }.join(' ') : ''
    def sequence_arg = sequence_labels ? "--sequence-labels ${sequence_labels}" : ''
    def compare_arg = compare_model ? "--compare-model ${compare_model}" : ''
    """
    bertrbp-attention-stats \\
        --model ${model} \\
        --sequences ${sequences} \\
        --output-dir attention_stats \\
        ${token_args} \\
        ${sequence_arg} \\
        ${compare_arg} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p attention_stats
    touch attention_stats/sequence_relative_attention.tsv attention_stats/token_attention_ratio.tsv attention_stats/specialization.json
    """
}
