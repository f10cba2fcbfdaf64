#!/usr/bin/env nextflow
/*
 * bert-rbp: predict RNA-binding-protein binding sites with k-mer BERT models (BERT-RBP) and read their attention.
 * Usage: nextflow run main.nf -profile test   |   -profile docker,gpu --input samplesheet.csv --outdir results
 *        --mode scan --models DIR[,DIR...] (--sequences FASTA | --regions BED --genome FASTA)
 *        --mode variants --models DIR[,DIR...] --vcf VCF --genome FASTA [--strand_bed BED | --gtf GTF]
 * Only this entry workflow reads `params`; the workflows below get what they need as arguments.
 */

include { BERTRBP                  } from './workflows/bertrbp'
include { SCAN                     } from './workflows/scan'
include { VARIANTS                 } from './workflows/variants'
include { PIPELINE_INITIALISATION  } from './subworkflows/local/utils_bertrbp_pipeline'
include { PIPELINE_COMPLETION      } from './subworkflows/local/utils_bertrbp_pipeline'
include { optionalFile             } from './subworkflows/local/utils_bertrbp_pipeline'
include { modelFolder              } from './subworkflows/local/utils_bertrbp_pipeline'
include { helpMessage              } from './subworkflows/local/utils_bertrbp_pipeline'

workflow {
    main:
    if (params.help) {
        log.info(helpMessage(params, workflow.manifest))
    }
    else {
        PIPELINE_INITIALISATION(params, file("${projectDir}/nextflow_schema.json"), file("${projectDir}/assets/schema_input.json"))
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
            def corpus = params.pretrain_corpus
                ? params.pretrain_corpus.tokenize(',').collect { pattern -> file(pattern.trim(), checkIfExists: true) }.flatten()
                : []
            BERTRBP(
                PIPELINE_INITIALISATION.out.samplesheet,
                params.model,
                modelFolder(params.model),
                [
                    pretokenize: params.pretokenize,
                    train_baseline: params.train_baseline,
                    baseline_model: params.baseline_model,
                    pretrain_corpus: corpus,
                    attribute: params.attribute,
                    attribute_sequences: params.attribute_sequences as int,  // "200" of a params file: splitFasta wants a number
                ]
            )
        }
        PIPELINE_COMPLETION(params.outdir)
    }
}
