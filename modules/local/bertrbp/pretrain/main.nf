// Pretrain a k-mer BERT by masked language modelling on a corpus, keeping held-out sequences out of it.
process BERTRBP_PRETRAIN {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-pretrain:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-pretrain:0.1.0' }"
    publishDir "${task.ext.outdir}/pretrain", mode: "${task.ext.publish_mode}",
        saveAs: { filename -> filename.startsWith('pretrained/checkpoints') ? null : filename.replaceFirst('pretrained/', '') }

    input:
    tuple val(meta), path(corpus, stageAs: 'corpus/?/*', arity: '1..*'), path(exclude, stageAs: 'exclude/*', arity: '0..*')

    output:
    tuple val(meta), path("pretrained/model"), emit: model
    tuple val(meta), path("pretrained/metrics.json"), emit: metrics
    tuple val(meta), path("pretrained/model_card.{json,md}"), emit: card
    tuple val("${task.process}"), val('bertrbp-pretrain'), eval("bertrbp-pretrain --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def corpus_args = corpus.collect { file -> "--corpus ${file}" }.join(' ')
    def exclude_args = exclude ? exclude.collect { file -> "--exclude ${file}" }.join(' ') : ''
    """
    bertrbp-pretrain \\
        ${corpus_args} \\
        ${exclude_args} \\
        --output-dir pretrained \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p pretrained/model
    touch pretrained/model/config.json pretrained/model_card.json pretrained/model_card.md
    echo '{}' > pretrained/metrics.json
    """
}
