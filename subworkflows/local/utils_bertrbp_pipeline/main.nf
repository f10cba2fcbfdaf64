// Pipeline start and end: check parameters, read the samplesheet, report tool versions.

workflow PIPELINE_INITIALISATION {
    take:
    mode        // string: train, scan or variants
    input       // string: samplesheet path (train mode)
    model       // string: checkpoint folder, hub id or random-init preset (train mode)
    models      // string: fine-tuned model folders, comma-separated (scan and variants modes)

    main:
    if (params.help) {
        log.info(helpMessage())
        exit(0)
    }
    def ch_samplesheet = channel.empty()
    def ch_models = channel.empty()
    def model_dir = []
    if (mode == 'train') {
        if (!input) {
            error("No samplesheet: give --input samplesheet.csv (see assets/samplesheet.csv), or use -profile test.")
        }
        log.info("bert-rbp ${workflow.manifest.version}: samplesheet ${input}, model ${model}, results in ${params.outdir}")

        def sheet = file(input, checkIfExists: true)
        ch_samplesheet = channel.fromPath(sheet)
            .splitCsv(header: true, strip: true)
            .map { row -> samplesheetRow(row, sheet) }
            .toList()
            .flatMap { rows -> checkUniqueIds(rows, sheet) }

        // a local checkpoint folder is staged into each task (portable to cloud executors);
        // a preset name or hub id is passed as a string
        def model_path = file(model)
        model_dir = model_path.exists() ? model_path : []
    }
    else if (mode in ['scan', 'variants']) {
        checkModeInputs(mode)
        def entries = (models ?: '').tokenize(',').collect { spec -> modelEntry(spec.trim()) }
        def ids = entries.collect { entry -> entry[0].id }
        def repeated = ids.findAll { id -> ids.count(id) > 1 }.unique()
        if (repeated) {
            error("--models: model names must be unique, repeated: ${repeated.join(', ')}; write NAME=DIR to name them.")
        }
        log.info("bert-rbp ${workflow.manifest.version}: ${mode} with models ${ids.join(', ')}, results in ${params.outdir}")
        ch_models = channel.fromList(entries)
    }
    else {
        error("--mode ${mode}: choose train (fine-tune and evaluate per RBP), scan or variants.")
    }

    emit:
    samplesheet = ch_samplesheet   // channel: [ val(meta), [ inputs ], [ positives ], [ negatives ], gtf, genome, chain ]
    model_name  = model            // value: string
    model_dir   = model_dir        // value: path or []
    models      = ch_models        // channel: [ val(meta), path(model dir) ] (scan and variants modes)
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

// Scan and variants modes score with models fine-tuned before: check that what each mode reads was given.
def checkModeInputs(String mode) {
    if (!params.models) {
        error("--mode ${mode} needs --models: fine-tuned model folders, comma-separated (NAME=DIR names one), e.g. results/RBFOX2_HepG2/finetune/model.")
    }
    if (mode == 'scan' && !params.sequences && !(params.regions && params.genome)) {
        error("--mode scan needs --sequences FASTA, or --regions BED with --genome FASTA.")
    }
    if (mode == 'scan' && params.sequences && params.regions) {
        error("--mode scan: give --sequences or --regions, not both.")
    }
    if (mode == 'variants' && !(params.vcf && params.genome)) {
        error("--mode variants needs --vcf VCF and --genome FASTA (the genome the VCF refers to).")
    }
    if (mode == 'variants' && params.strand_bed && params.gtf) {
        error("--mode variants: give the strand with --strand_bed or --gtf, not both.")
    }
}

// One --models entry -> [ meta, model dir ]. NAME=DIR names the model; otherwise it is named after its folder,
// and a folder this pipeline wrote (<outdir>/<id>/finetune/model or .../baseline/model) after its RBP id.
def modelEntry(String spec) {
    def named = spec.contains('=') && !file(spec).exists()
    def dir = file(named ? spec.substring(spec.indexOf('=') + 1) : spec)
    if (!dir.exists()) {
        error("--models: model folder not found: ${spec} (give fine-tuned model folders, comma-separated).")
    }
    def id = named ? spec.substring(0, spec.indexOf('=')) : modelId(dir)
    if (!(id ==~ /[A-Za-z0-9_.-]+/)) {
        error("--models ${spec}: the model name '${id}' may contain only letters, digits, '.', '_' and '-'; write NAME=DIR.")
    }
    return [[id: id], dir]
}

def modelId(Path dir) {
    if (dir.name != 'model') {
        return dir.name
    }
    def step = dir.parent.name
    if (step == 'finetune') {
        return dir.parent.parent.name
    }
    return step == 'baseline' ? "${dir.parent.parent.name}.baseline" : step
}

// An optional file parameter: the checked file, or [] (a missing optional input of a module).
def optionalFile(value) {
    return value ? file(value, checkIfExists: true) : []
}

def helpMessage() {
    return """
    bert-rbp ${workflow.manifest.version}: ${workflow.manifest.description}

    Usage:
      nextflow run main.nf -profile <docker|singularity|apptainer|local>[,gpu] --input samplesheet.csv --outdir results
      nextflow run main.nf -profile test,docker         (tiny CPU run on the demo data)
      nextflow run main.nf --mode scan --models DIR[,DIR] (--sequences FASTA | --regions BED --genome FASTA)
      nextflow run main.nf --mode variants --models DIR[,DIR] --vcf VCF --genome FASTA [--strand_bed BED | --gtf GTF]

    Main options (all options, with help: nextflow_schema.json):
      --mode             train (default), scan or variants [${params.mode}]
      --input            samplesheet CSV: id,input,format,positives,negatives,gtf,genome,chain
      --outdir           results folder [${params.outdir}]
      --model            checkpoint folder, hub id or random-init preset [${params.model}]
      --train_baseline   also train a random-init BERT baseline [${params.train_baseline}]
      --pretrain_corpus  pretrain on these FASTA files first, then fine-tune from that model
      --attribute        attribute test predictions to nucleotides [${params.attribute}]
      --epochs           fine-tuning epochs [${params.epochs}]
      --test_size        test split: a count or a fraction [${params.test_size}]
      --models           fine-tuned model folders for scan and variants modes (NAME=DIR names one)
    """.stripIndent()
}
