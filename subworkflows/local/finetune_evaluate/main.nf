// Fine-tune one model per RBP, score its held-out test split and evaluate the scores.
// Called twice by the pipeline: from the pretrained model, and (with --train_baseline) from random init.

include { BERTRBP_FINETUNE } from '../../../modules/local/bertrbp/finetune'
include { BERTRBP_PREDICT  } from '../../../modules/local/bertrbp/predict'
include { BERTRBP_EVALUATE } from '../../../modules/local/bertrbp/evaluate'

workflow FINETUNE_EVALUATE {
    take:
    ch_train    // channel: [ val(meta), path(train sequences or tokens) ]
    ch_test     // channel: [ val(meta), path(test sequences) ]
    model_name  // value: random-init preset or hub id (used when model_dir is empty)
    model_dir   // value: checkpoint folder, or [] when model_name is used

    main:
    BERTRBP_FINETUNE(ch_train, model_name, model_dir)
    BERTRBP_PREDICT(BERTRBP_FINETUNE.out.model.join(ch_test))
    BERTRBP_EVALUATE(BERTRBP_PREDICT.out.predictions)

    // emitted by name from variables assigned here: Nextflow 25.04's strict parser (NXF_SYNTAX_PARSER=v2, nf-lang
    // 25.04.0) drops an `emit: name = expression` assignment and the run stops with "Missing workflow output
    // parameter"
    model       = BERTRBP_FINETUNE.out.model
    predictions = BERTRBP_PREDICT.out.predictions
    metrics     = BERTRBP_EVALUATE.out.metrics
    card        = BERTRBP_FINETUNE.out.card

    emit:
    model        // channel: [ val(meta), path(model dir) ]
    predictions  // channel: [ val(meta), path(predictions.tsv) ]
    metrics      // channel: [ val(meta), path(metrics.json) ]
    card         // channel: [ val(meta), [ path(model_card.json), path(model_card.md) ] ]
}
