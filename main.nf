#!/usr/bin/env nextflow
/*
 * bert-rbp: predict RNA-binding-protein binding sites with k-mer BERT models (BERT-RBP) and read their attention.
 * Usage: nextflow run main.nf -profile test,docker   |   -profile gpu,docker --input samplesheet.csv
 */

include { BERTRBP                  } from './workflows/bertrbp'
include { PIPELINE_INITIALISATION  } from './subworkflows/local/utils_bertrbp_pipeline'
include { PIPELINE_COMPLETION      } from './subworkflows/local/utils_bertrbp_pipeline'

workflow {
    main:
    PIPELINE_INITIALISATION(params.input, params.model)
    BERTRBP(
        PIPELINE_INITIALISATION.out.samplesheet,
        PIPELINE_INITIALISATION.out.model_name,
        PIPELINE_INITIALISATION.out.model_dir
    )
    PIPELINE_COMPLETION(params.outdir)
}
