// Tokenize sequences into DNABERT k-mer ids once (.npz), so fine-tuning does not re-tokenize.
process BERTRBP_TOKENIZE {
    tag "${meta.id}"
    label 'process_single'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-tokenize:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-tokenize:0.1.0' }"

    input:
    tuple val(meta), path(sequences)

    output:
    tuple val(meta), path("*.tokens.npz"), emit: tokens
    tuple val("${task.process}"), val('bertrbp-tokenize'), eval("bertrbp-tokenize --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    bertrbp-tokenize \\
        ${sequences} \\
        --output ${prefix}.tokens.npz \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.tokens.npz
    """
}
