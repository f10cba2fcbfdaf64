// Pipeline start and end: check parameters, read the samplesheet, report tool versions.

workflow PIPELINE_INITIALISATION {
    take:
    input       // string: samplesheet path
    model       // string: checkpoint folder, hub id or random-init preset

    main:
    if (params.help) {
        log.info(helpMessage())
        exit(0)
    }
    if (!input) {
        error("No samplesheet: give --input samplesheet.csv (see assets/samplesheet.csv), or use -profile test.")
    }
    log.info("bert-rbp ${workflow.manifest.version}: samplesheet ${input}, model ${model}, results in ${params.outdir}")

    def sheet = file(input, checkIfExists: true)
    def ch_samplesheet = channel.fromPath(sheet)
        .splitCsv(header: true, strip: true)
        .map { row -> samplesheetRow(row, sheet) }
        .toList()
        .flatMap { rows -> checkUniqueIds(rows, sheet) }

    // a local checkpoint folder is staged into each task (portable to cloud executors);
    // a preset name or hub id is passed as a string
    def model_path = file(model)
    def model_dir = model_path.exists() ? model_path : []

    emit:
    samplesheet = ch_samplesheet   // channel: [ val(meta), [ inputs ], [ positives ], [ negatives ], gtf, genome, chain ]
    model_name  = model            // value: string
    model_dir   = model_dir        // value: path or []
}

workflow PIPELINE_COMPLETION {
    take:
    outdir      // string: results folder

    main:
    channel.topic('versions')
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n  ${tool}: ${version}\n" }
        .unique()
        .collectFile(storeDir: "${outdir}/pipeline_info", name: 'bertrbp_software_versions.yml', sort: true)

    workflow.onComplete = {
        if (workflow.success) {
            log.info("bert-rbp: done; results in ${outdir} (summary/report.html)")
        }
        else {
            log.error("bert-rbp: failed; see the error above and ${workflow.workDir} for the task's files")
        }
    }
}

// One samplesheet row -> [ meta, [inputs], [positives], [negatives], gtf, genome, chain ]. Relative paths are resolved against the
// samplesheet's own folder, so a samplesheet and its data can be moved together (the demo sheet uses this).
def samplesheetRow(Map row, Path sheet) {
    def where = "${sheet}, row with id '${row.id}'"
    if (!row.id) {
        error("Samplesheet ${sheet}: a row has no 'id'; give every RBP dataset a unique id (letters, digits, _ or -).")
    }
    if (!(row.id ==~ /[A-Za-z0-9_-]+/)) {
        error("${where}: the id may contain only letters, digits, '_' and '-' (it names output files).")
    }
    if (!row.input && !(row.positives && row.negatives)) {
        error("${where}: give 'input' (labelled sequence files, separated by ';') or both 'positives' and 'negatives'.")
    }
    if (row.chain && !row.genome) {
        error("${where}: 'chain' needs 'genome' (the liftover target genome FASTA).")
    }
    def files = ['input', 'positives', 'negatives'].collect { column ->
        (row[column] ?: '').tokenize(';').collect { value -> resolvePath(value.trim(), sheet, where) }
    }
    def meta = [id: row.id, format: row.format ?: 'auto']
    def optional = ['gtf', 'genome', 'chain'].collect { column -> row[column] ? resolvePath(row[column], sheet, where) : [] }
    return [meta] + files + optional
}

def resolvePath(String value, Path sheet, String where) {
    def path = value.contains('://') || value.startsWith('/') ? file(value) : sheet.parent.resolve(value)
    if (!path.exists()) {
        error("${where}: file not found: ${value} (relative paths are read from the samplesheet's folder ${sheet.parent}).")
    }
    return path
}

def checkUniqueIds(List rows, Path sheet) {
    def ids = rows.collect { row -> row[0].id }
    def repeated = ids.findAll { id -> ids.count(id) > 1 }.unique()
    if (repeated) {
        error("Samplesheet ${sheet}: ids must be unique, repeated: ${repeated.join(', ')}.")
    }
    return rows
}

def helpMessage() {
    return """
    bert-rbp ${workflow.manifest.version}: ${workflow.manifest.description}

    Usage:
      nextflow run main.nf -profile <docker|singularity|apptainer|local>[,gpu] --input samplesheet.csv --outdir results
      nextflow run main.nf -profile test,docker         (tiny CPU run on the demo data)

    Main options (all options, with help: nextflow_schema.json):
      --input            samplesheet CSV: id,input,format,positives,negatives,gtf,genome,chain
      --outdir           results folder [${params.outdir}]
      --model            checkpoint folder, hub id or random-init preset [${params.model}]
      --train_baseline   also train a random-init BERT baseline [${params.train_baseline}]
      --epochs           fine-tuning epochs [${params.epochs}]
      --test_size        test split: a count or a fraction [${params.test_size}]
    """.stripIndent()
}
