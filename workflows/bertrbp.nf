// BERT-RBP per RBP: prepare -> (tokenize) -> fine-tune -> predict -> evaluate; fold -> attention statistics;
// optional random-init BERT baseline beside the pretrained model; one summary over all RBPs.
// Optional: pretrain the starting model on a corpus first (--pretrain_corpus), attribute test predictions
// to nucleotides (--attribute).

include { BERTRBP_PREPARE                      } from '../modules/local/bertrbp/prepare'
include { BERTRBP_TOKENIZE                     } from '../modules/local/bertrbp/tokenize'
include { BERTRBP_FOLD                         } from '../modules/local/bertrbp/fold'
include { BERTRBP_ATTENTION_STATS              } from '../modules/local/bertrbp/attention_stats'
include { BERTRBP_SUMMARY                      } from '../modules/local/bertrbp/summary'
include { BERTRBP_PRETRAIN                     } from '../modules/local/bertrbp/pretrain'
include { BERTRBP_ATTRIBUTE                    } from '../modules/local/bertrbp/attribute'
include { FINETUNE_EVALUATE as PRETRAINED      } from '../subworkflows/local/finetune_evaluate'
include { FINETUNE_EVALUATE as BASELINE        } from '../subworkflows/local/finetune_evaluate'

workflow BERTRBP {
    take:
    ch_samplesheet  // channel: [ val(meta), [ inputs ], [ positives ], [ negatives ], gtf or [], genome or [], chain or [] ]
    model_name      // value: preset name or hub id of the starting model (when model_dir is empty)
    model_dir       // value: local checkpoint folder of the starting model, or []
    options         // map: pretokenize, train_baseline, baseline_model, pretrain_corpus (files or []),
                    //      attribute, attribute_sequences

    main:
    BERTRBP_PREPARE(ch_samplesheet)

    def ch_train = BERTRBP_PREPARE.out.train
    if (options.pretokenize) {
        BERTRBP_TOKENIZE(BERTRBP_PREPARE.out.train)
        ch_train = BERTRBP_TOKENIZE.out.tokens
    }

    // pretraining on a corpus: every RBP's non-training sequences (test split included) are kept out of the
    // corpus, so that the test AUROC is not inflated by sequences the encoder has memorised
    def start_model = model_dir
    if (options.pretrain_corpus) {
        def corpus = options.pretrain_corpus
        def ch_pretrain = BERTRBP_PREPARE.out.nontrain
            .map { _meta, sequences -> sequences }
            .toSortedList { a, b -> a.name <=> b.name }   // in the order of the RBPs' ids, not of their tasks' ends: -resume
            .map { exclude -> [[id: 'pretrain'], corpus, exclude] }
        BERTRBP_PRETRAIN(ch_pretrain)
        start_model = BERTRBP_PRETRAIN.out.model.map { _meta, model -> model }   // a value channel (one pretraining)
    }

    // the summary names each model as evaluate's --name does: RBP for the main model, RBP.baseline for the baseline
    PRETRAINED(ch_train, BERTRBP_PREPARE.out.test, model_name, start_model)
    def ch_metrics = PRETRAINED.out.metrics
    def ch_predictions = PRETRAINED.out.predictions
    def ch_cards = PRETRAINED.out.card.map { meta, files -> [meta.id, files.find { card -> card.name.endsWith('.json') }] }
    def ch_compare = channel.empty()
    if (options.train_baseline) {
        BASELINE(ch_train, BERTRBP_PREPARE.out.test, options.baseline_model, [])
        ch_metrics = ch_metrics.mix(BASELINE.out.metrics)
        ch_predictions = ch_predictions.mix(BASELINE.out.predictions)
        ch_cards = ch_cards.mix(BASELINE.out.card.map { meta, files -> ["${meta.id}.baseline", files.find { card -> card.name.endsWith('.json') }] })
        // only a BERT preset has attention heads to compare (not a cnn, a k-mer model or an ensemble)
        if (options.baseline_model in ['tiny', 'mini', 'small', 'medium', 'base']) {
            ch_compare = BASELINE.out.model
        }
    }

    BERTRBP_FOLD(BERTRBP_PREPARE.out.nontrain)

    // attention statistics on the non-training sequences: structure labels from fold, region labels from
    // prepare (only when a GTF was given), and the baseline model for comparison (only with --train_baseline)
    def ch_attention = PRETRAINED.out.model
        .join(BERTRBP_PREPARE.out.nontrain)
        .join(BERTRBP_FOLD.out.token_labels)
        .join(BERTRBP_PREPARE.out.token_regions, remainder: true)
        .join(BERTRBP_PREPARE.out.sequence_regions, remainder: true)
        .join(ch_compare, remainder: true)
        .filter { row -> row[1] != null }
        .map { meta, model, sequences, structure, regions, sequence_regions, compare ->
            def token_labels = regions ? [structure, regions] : [structure]
            [meta, model, sequences, token_labels, sequence_regions ?: [], compare ?: []]
        }
    BERTRBP_ATTENTION_STATS(ch_attention)

    // attribution (integrated gradients and mutagenesis) of the first --attribute_sequences test sequences
    if (options.attribute) {
        def ch_subset = BERTRBP_PREPARE.out.test
            .splitFasta(by: options.attribute_sequences, limit: options.attribute_sequences, file: true, elem: 1)
        BERTRBP_ATTRIBUTE(PRETRAINED.out.model.join(ch_subset))
    }

    // sorted by name, as the pretraining's exclusions: in the order tasks ended, -resume ran the summary again
    BERTRBP_SUMMARY(
        ch_metrics.map { _meta, metrics -> metrics }.collect(sort: { a, b -> a.name <=> b.name }),
        ch_predictions.map { _meta, predictions -> predictions }.collect(sort: { a, b -> a.name <=> b.name }),
        ch_cards.toSortedList { a, b -> a[0] <=> b[0] }.map { rows -> [rows.collect { row -> row[0] }, rows.collect { row -> row[1] }] },
    )

    // emitted by name from variables assigned here: Nextflow 25.04's strict parser (NXF_SYNTAX_PARSER=v2, nf-lang
    // 25.04.0) drops an `emit: name = expression` assignment and the run stops with "Missing workflow output
    // parameter"
    metrics   = ch_metrics
    attention = BERTRBP_ATTENTION_STATS.out.stats
    report    = BERTRBP_SUMMARY.out.report

    emit:
    metrics    // channel: [ val(meta), path(metrics.json) ]
    attention  // channel: [ val(meta), path(attention_stats) ]
    report     // channel: path(report.html)
}
