// Slide a fine-tuned model along sequences of any length (FASTA, or BED regions of a genome): profile and peaks.
process BERTRBP_SCAN {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/bert-rbp/bertrbp-scan:0.1.0' :
        'ghcr.io/bert-rbp/bertrbp-scan:0.1.0' }"
    publishDir "${task.ext.outdir}/${meta.id}/scan", mode: "${task.ext.publish_mode}"

    input:
    tuple val(meta), path(model), path(sequences), path(regions), path(genome)

    output:
    tuple val(meta), path("*.bedGraph"), emit: bedgraph
    tuple val(meta), path("*.profile.tsv"), emit: profile
    tuple val(meta), path("*.peaks.bed"), emit: peaks
    tuple val("${task.process}"), val('bertrbp-scan'), eval("bertrbp-scan --version | sed 's/^bert-rbp //'"), topic: versions, emit: versions_bertrbp

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def target_args = sequences ? "--input ${sequences}" : "--bed ${regions} --genome ${genome}"
    """
    bertrbp-scan \\
        --model ${meta.id}=${model} \\
        ${target_args} \\
        --output-prefix ${prefix} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.${meta.id}.bedGraph ${prefix}.profile.tsv ${prefix}.peaks.bed
    """
}
