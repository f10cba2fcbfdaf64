// Gather every RBP's metrics into one table and a self-contained HTML report with plots.
process BERTRBP_SUMMARY {
    label 'process_single'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-summary:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-summary:0.1.0' }"

    input:
    path metrics, stageAs: 'metrics/*'

    output:
    path "summary/*.tsv", emit: table
    path "summary/*.html", emit: report
    tuple val("${task.process}"), val('bertrbp-summary'), eval("bertrbp-summary --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    """
    bertrbp-summary \\
        ${metrics} \\
        --output-dir summary \\
        ${args}
    """

    stub:
    """
    mkdir -p summary
    touch summary/metrics.tsv summary/report.html
    """
}
