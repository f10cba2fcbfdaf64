// Gather every RBP's metrics into one table and a self-contained HTML report with plots.
process BERTRBP_SUMMARY {
    label 'process_single'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-summary:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-summary:0.1.0' }"
    publishDir "${task.ext.outdir}", mode: "${task.ext.publish_mode}"

    input:
    path metrics, stageAs: 'metrics/*'
    path predictions, stageAs: 'predictions/*'                              // RBP[.baseline].predictions.tsv
    tuple val(card_names), path(cards, stageAs: 'cards/card*.json')         // finetune model_card.json per model

    output:
    path "summary/*.tsv", emit: table
    path "summary/*.html", emit: report
    tuple val("${task.process}"), val('bertrbp-summary'), eval("bertrbp-summary --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prediction_args = (predictions instanceof List ? predictions : [predictions]).collect { tsv -> "--predictions ${tsv}" }.join(' ')
    def card_list = cards instanceof List ? cards : [cards]
    def training_args = [card_names, card_list].transpose().collect { name, card -> "--training '${name}=${card}'" }.join(' ')
    """
    bertrbp-summary \\
        ${metrics} \\
        ${prediction_args} \\
        ${training_args} \\
        --output-dir summary \\
        ${args}
    """

    stub:
    """
    mkdir -p summary
    touch summary/metrics_summary.tsv summary/report.html
    """
}
