// Split one RBP's CLIP sequences into train / test / non-training FASTA (and region labels from a GTF).
process BERTRBP_PREPARE {
    tag "${meta.id}"
    label 'process_single'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-prepare:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-prepare:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/prepare", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(inputs, stageAs: 'input/?/*', arity: '0..*'), path(positives, stageAs: 'positives/?/*', arity: '0..*'), path(negatives, stageAs: 'negatives/?/*', arity: '0..*'), path(gtf), path(genome), path(chain)

    output:
    tuple val(meta), path("*.train.fa"), emit: train
    tuple val(meta), path("*.test.fa"), emit: test
    tuple val(meta), path("*.nontrain.fa"), emit: nontrain
    tuple val(meta), path("*.manifest.json"), emit: manifest
    tuple val(meta), path("*.sequence_regions.tsv"), emit: sequence_regions, optional: true
    tuple val(meta), path("*.token_regions.tsv"), emit: token_regions, optional: true
    tuple val("${task.process}"), val('bertrbp-prepare'), eval("bertrbp-prepare --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def format = meta.format ?: 'auto'
    // the file inputs are lists (arity '0..*') even with one file: a single Path would iterate over its name parts
    def positive_args = positives ? positives.collect { file -> "--positives ${file}" }.join(' ') : ''
    def negative_args = negatives ? negatives.collect { file -> "--negatives ${file}" }.join(' ') : ''
    def gtf_arg = gtf ? "--gtf ${gtf}" : ''
    def genome_arg = genome ? "--genome ${genome}" : ''
    def chain_arg = chain ? "--chain ${chain}" : ''
    """
    bertrbp-prepare \\
        ${inputs} \\
        ${positive_args} \\
        ${negative_args} \\
        --output-dir . \\
        --prefix ${prefix} \\
        --format ${format} \\
        ${gtf_arg} \\
        ${genome_arg} \\
        ${chain_arg} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    for split in train test nontrain; do printf '>s1 class:1\\nACGTACGTAC\\n' > ${prefix}.\${split}.fa; done
    echo '{}' > ${prefix}.manifest.json
    """
}
