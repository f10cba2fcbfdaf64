#!/usr/bin/env nextflow
/*
 * bert-rbp: predict RNA-binding-protein binding sites with k-mer BERT models (BERT-RBP) and read their attention.
 * Usage: nextflow run main.nf -profile test,docker   |   -profile gpu,docker --input samplesheet.csv
 *        --mode scan --models DIR[,DIR...] (--sequences FASTA | --regions BED --genome FASTA)
 *        --mode variants --models DIR[,DIR...] --vcf VCF --genome FASTA [--strand_bed BED | --gtf GTF]
 */

include { BERTRBP                  } from './workflows/bertrbp'
include { SCAN                     } from './workflows/scan'
include { VARIANTS                 } from './workflows/variants'
include { PIPELINE_INITIALISATION  } from './subworkflows/local/utils_bertrbp_pipeline'
include { PIPELINE_COMPLETION      } from './subworkflows/local/utils_bertrbp_pipeline'
include { optionalFile             } from './subworkflows/local/utils_bertrbp_pipeline'

workflow {
    main:
    PIPELINE_INITIALISATION(params.mode, params.input, params.model, params.models)
    if (params.mode == 'scan') {
        SCAN(
            PIPELINE_INITIALISATION.out.models,
            optionalFile(params.sequences),
            optionalFile(params.regions),
            optionalFile(params.genome)
        )
    }
    else if (params.mode == 'variants') {
        VARIANTS(
            PIPELINE_INITIALISATION.out.models,
            optionalFile(params.vcf),
            optionalFile(params.genome),
            optionalFile(params.strand_bed),
            optionalFile(params.gtf)
        )
    }
    else {
        BERTRBP(
            PIPELINE_INITIALISATION.out.samplesheet,
            PIPELINE_INITIALISATION.out.model_name,
            PIPELINE_INITIALISATION.out.model_dir
        )
    }
    PIPELINE_COMPLETION(params.outdir)
}
