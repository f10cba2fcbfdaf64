// Fine-tune a k-mer BERT (pretrained checkpoint, hub id or random-init preset) on one RBP.
process BERTRBP_FINETUNE {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-finetune:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-finetune:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/${task.ext.model_tag ?: 'finetune'}", mode: "${task.ext.publish_mode}",
        saveAs: { filename -> filename.startsWith('finetuned/checkpoints') ? null : filename.replaceFirst('finetuned/', '') }

    input:
    tuple val(meta), path(train)
    val model_name
    path model_dir

    output:
    tuple val(meta), path("finetuned/model"), emit: model
    tuple val(meta), path("finetuned/metrics.json"), emit: metrics
    tuple val(meta), path("finetuned/model_card.{json,md}"), emit: card
    tuple val("${task.process}"), val('bertrbp-finetune'), eval("bertrbp-finetune --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def source = model_dir ? model_dir : model_name
    """
    bertrbp-finetune \\
        --train ${train} \\
        --model ${source} \\
        --output-dir finetuned \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p finetuned/model
    touch finetuned/model/config.json finetuned/model_card.json finetuned/model_card.md
    echo '{}' > finetuned/metrics.json
    """
}
