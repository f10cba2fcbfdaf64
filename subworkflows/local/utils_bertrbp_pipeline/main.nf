// Pipeline start and end: check every parameter against nextflow_schema.json and the samplesheet against
// assets/schema_input.json before any task runs (no plugin needed), then report tool versions at the end.
// Parameters arrive as arguments: only the entry workflow reads `params` (strict syntax).

workflow PIPELINE_INITIALISATION {
    take:
    parameters      // map: the run's params
    schema          // path: nextflow_schema.json
    input_schema    // path: assets/schema_input.json

    main:
    validateParameters(parameters, schema)
    def ch_samplesheet = channel.empty()
    def ch_models = channel.empty()
    if (parameters.mode == 'train') {
        checkRecipe(parameters)
        def rows = readSamplesheet(parameters.input, input_schema)
        log.info("bert-rbp: ${rows.size()} RBP dataset(s) from ${parameters.input}, model ${parameters.model}, results in ${parameters.outdir}")
        ch_samplesheet = channel.fromList(rows)
    }
    else {
        checkModeInputs(parameters)
        def entries = readModels(parameters.models)
        log.info("bert-rbp: ${parameters.mode} with models ${entries.collect { entry -> entry[0].id }.join(', ')}, results in ${parameters.outdir}")
        ch_models = channel.fromList(entries)
    }

    // emitted by name from variables assigned here: Nextflow 25.04's strict parser (NXF_SYNTAX_PARSER=v2, nf-lang
    // 25.04.0) drops an `emit: name = expression` assignment and the run stops with "Missing workflow output
    // parameter"
    samplesheet = ch_samplesheet
    models      = ch_models

    emit:
    samplesheet  // channel: [ val(meta), [ inputs ], [ positives ], [ negatives ], gtf, genome, chain ]
    models       // channel: [ val(meta), path(model dir) ] (scan and variants modes)
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
            log.info("bert-rbp: done; results in ${outdir}")
        }
        else {
            log.error("bert-rbp: failed; see the error above and ${workflow.workDir} for the task's files")
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Parameters

// Every given parameter must be one nextflow_schema.json describes, with a value of its type and, where the
// schema lists them, one of its allowed values (enum) or a match of its pattern. All problems are reported
// together, each naming the parameter.
def validateParameters(Map parameters, Path schema) {
    def properties = schemaProperties(schema)
    def problems = []
    parameters.each { name, value ->
        def key = snakeCase(name.toString())
        def spec = properties[key]
        if (spec == null) {
            def near = properties.keySet().findAll { known -> editDistance(known, key) <= 2 || known.startsWith(key) || key.startsWith(known) }
            problems << "--${name}: no such parameter${near ? "; did you mean --${near.sort().join(' or --')}?" : ''} (all parameters: nextflow_schema.json, or --help)"
            return
        }
        def problem = valueProblem(value, spec)
        if (problem) {
            problems << "--${name} ${value}: ${problem}"
        }
    }
    def model = parameters.model
    if (model instanceof CharSequence && !file(model.toString()).exists() && !(model.toString() ==~ /[A-Za-z0-9_][A-Za-z0-9_.,\/-]*/)) {
        // a name (not a folder) reaches finetune's command line as it is: a space or a quote would split or end it
        problems << "--model ${model}: no such folder, and not a model name (a preset, a bundled checkpoint or a hub id owner/name: letters, digits, '.', '_', '-', '/' and ',' for an ensemble); give a checkpoint folder that exists or a name"
    }
    if (problems) {
        error("Invalid parameters:\n  " + problems.join('\n  '))
    }
}

def schemaProperties(Path schema) {
    def json = new groovy.json.JsonSlurper().parse(schema.toFile())
    def properties = [:]
    (json['$defs'] ?: json['definitions'] ?: [:]).each { _group, definition -> properties.putAll(definition.properties ?: [:]) }
    properties.putAll(json.properties ?: [:])
    return properties
}

// the reason a value does not fit its schema entry, or null (an unset value always fits)
def valueProblem(value, Map spec) {
    if (value == null) {
        return null
    }
    def type = spec.type
    if (type == 'boolean' && !(value instanceof Boolean)) {
        // a quoted 'false' (a params file's "false", a config's 'false') is a non-empty string: true in the workflow
        return value.toString().toLowerCase() in ['true', 'false'] ? 'expected true or false, unquoted (a quoted value reads as true)' : 'expected true or false'
    }
    if (type == 'integer' && !(value instanceof Integer || value instanceof Long || value.toString() ==~ /-?\d+/)) {
        return 'expected a whole number'
    }
    if (type == 'number' && !(value instanceof Number || value.toString().isNumber())) {
        return 'expected a number'
    }
    if (type in ['integer', 'number'] && value instanceof CharSequence && value.toString().toBigDecimal() == 0) {
        // a quoted "0" (a params file's "0") is a non-empty string: set in the workflow, where the number 0 means the default
        return 'expected a number, unquoted (a quoted 0 reads as set, not as 0)'
    }
    if (type == 'string' && value instanceof Boolean) {
        return 'expected a value (given with no value after it?)'
    }
    if (spec['enum'] && !(value.toString() in spec['enum'].collect { allowed -> allowed.toString() })) {
        return "expected one of ${spec['enum'].join(', ')}"
    }
    if (spec.pattern && !(value.toString() ==~ spec.pattern)) {
        return spec.errorMessage ?: "expected a value matching ${spec.pattern}"
    }
    if (type in ['integer', 'number']) {
        def number = value.toString().toBigDecimal()
        if (spec.minimum != null && number < spec.minimum) {
            return "expected at least ${spec.minimum}"
        }
        if (spec.maximum != null && number > spec.maximum) {
            return "expected at most ${spec.maximum}"
        }
    }
    return null
}

// --train-baseline and --trainBaseline reach params as given; the schema names them train_baseline
def snakeCase(String name) {
    return name.replace('-', '_').replaceAll(/([a-z0-9])([A-Z])/) { _all, before, upper -> "${before}_${upper.toLowerCase()}" }
}

def editDistance(String a, String b) {
    if (!a || !b) {
        return Math.max(a.length(), b.length())
    }
    def previous = (0..b.length()).toList()
    (1..a.length()).each { i ->
        def current = [i]
        (1..b.length()).each { j ->
            def cost = a[i - 1] == b[j - 1] ? 0 : 1
            current << [previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost].min()
        }
        previous = current
    }
    return previous[b.length()]
}

// ---------------------------------------------------------------------------------------------------------
// Samplesheet

// The samplesheet, checked whole at start: known columns only, a valid unique id per row, 'input' or both
// 'positives' and 'negatives', existing files, 'chain' and 'genome' only together. One message lists every problem.
// Row -> [ meta, [inputs], [positives], [negatives], gtf or [], genome or [], chain or [] ]. Relative paths are
// read from the samplesheet's folder, so a samplesheet and its data can move together (the demo sheet does).
def readSamplesheet(input, Path schema) {
    if (!input) {
        error("No samplesheet: give --input samplesheet.csv (columns id,input,format,positives,negatives,gtf,genome,chain; see assets/samplesheet.csv), or use -profile test.")
    }
    def sheet = file(input)
    if (!sheet.exists()) {
        error("--input ${input}: file not found.")
    }
    def columns = schemaColumns(schema)
    // [number, text] of each line that is not blank, numbered as an editor numbers them (blank lines too). A
    // spreadsheet's "CSV UTF-8" starts with a byte order mark, which would stick to the first column's name.
    def lines = sheet.readLines().withIndex(1)
        .findAll { line, _number -> line.trim() }
        .collect { line, number -> [number, line.replaceFirst(/^\uFEFF/, '')] }
    if (!lines) {
        error("Samplesheet ${sheet} is empty: give a header line (id,input,...) and one row per RBP dataset.")
    }
    def header = csvFields(lines[0][1])
    def unknown = header.findAll { column -> !(column in columns.keySet()) }
    // a column named twice: the row maps kept the last one's values without a word
    def twice = header.findAll { column -> header.count(column) > 1 }.unique()
    if (unknown || twice) {
        def found = unknown ? ["unknown column(s) ${unknown.join(', ')}"] : []
        found += twice ? ["column(s) named more than once: ${twice.join(', ')}"] : []
        error("Samplesheet ${sheet}: ${found.join('; ')}; the columns are ${columns.keySet().join(', ')}, each at most once.")
    }
    if (!('id' in header)) {
        error("Samplesheet ${sheet}: no 'id' column; the columns are ${columns.keySet().join(', ')}.")
    }
    def problems = []
    def rows = []
    def ids = []
    lines.drop(1).each { number, line ->
        def values = csvFields(line)
        def where = "line ${number}"
        if (values.size() != header.size()) {
            problems << "${where}: ${values.size()} fields, the header has ${header.size()}"
            return
        }
        def row = [header, values].transpose().collectEntries { column, value -> [column, value] }
        if (row.id) {
            ids << row.id
        }
        def row_problems = rowProblems(row, columns, sheet)
        problems.addAll(row_problems.collect { problem -> "${where}${row.id ? " (id '${row.id}')" : ''}: ${problem}" })
        if (!row_problems) {
            rows << samplesheetRow(row, sheet)
        }
    }
    def repeated = ids.findAll { id -> ids.count(id) > 1 }.unique()
    if (repeated) {
        problems << "ids must be unique (they name the results folders), repeated: ${repeated.join(', ')}"
    }
    def caseOnly = caseOnlyTwins(ids)
    if (caseOnly) {
        problems << "ids must differ in more than case (macOS and Windows file systems give them one results folder): ${caseOnly}"
    }
    if (!problems && !rows) {
        problems << "no rows: give one row per RBP dataset"
    }
    if (problems) {
        error("Samplesheet ${sheet}:\n  " + problems.join('\n  '))
    }
    return rows
}

// One CSV line's fields, trimmed. A field may be quoted (R's write.csv quotes every one, a spreadsheet those with
// a comma): the quotes are not part of its value, and "" inside them is one quote.
def csvFields(String line) {
    def fields = (line + ',') =~ /\G\s*(?:"((?:[^"]|"")*)"\s*|([^,]*)),/
    return fields.collect { match -> match[1] != null ? match[1].replace('""', '"') : match[2].trim() }
}

def schemaColumns(Path schema) {
    def json = new groovy.json.JsonSlurper().parse(schema.toFile())
    return json.items.properties
}

def rowProblems(Map row, Map columns, Path sheet) {
    def problems = []
    if (!row.id) {
        problems << "no id: give every RBP dataset a unique id (letters, digits, _ or -)"
    }
    else if (!(row.id ==~ /[A-Za-z0-9_-]+/)) {
        problems << "id '${row.id}' may contain only letters, digits, '_' and '-' (it names output files)"
    }
    else if (row.id.startsWith('-')) {
        // the tasks' command lines, and Nextflow's own clean-up, read a file named '-ID...' as an option
        problems << "id '${row.id}' must start with a letter, a digit or '_' (it names output files)"
    }
    if (!row.input && !(row.positives && row.negatives)) {
        problems << "give 'input' (labelled sequence files, separated by ';') or both 'positives' and 'negatives'"
    }
    if (row.input && (row.positives || row.negatives)) {
        problems << "give 'input' or 'positives' + 'negatives', not both"
    }
    if (row.chain && !row.genome) {
        problems << "'chain' needs 'genome' (the liftover target genome FASTA)"
    }
    if (row.genome && !row.chain) {
        problems << "'genome' is the liftover target genome: it needs 'chain' (without one it is not read)"
    }
    def formats = columns.format?.get('enum') ?: []
    if (row.format && formats && !(row.format in formats)) {
        problems << "format '${row.format}': expected one of ${formats.join(', ')}"
    }
    ['input', 'positives', 'negatives', 'gtf', 'genome', 'chain'].each { column ->
        (row[column] ?: '').tokenize(';').each { value ->
            if (!resolvePath(value.trim(), sheet).exists()) {
                problems << "${column}: file not found: ${value.trim()} (relative paths are read from ${sheet.parent})"
            }
        }
    }
    return problems
}

def samplesheetRow(Map row, Path sheet) {
    def files = ['input', 'positives', 'negatives'].collect { column ->
        (row[column] ?: '').tokenize(';').collect { value -> resolvePath(value.trim(), sheet) }
    }
    def meta = [id: row.id, format: row.format ?: 'auto']
    def optional = ['gtf', 'genome', 'chain'].collect { column -> row[column] ? resolvePath(row[column], sheet) : [] }
    return [meta] + files + optional
}

def resolvePath(String value, Path sheet) {
    return value.contains('://') || value.startsWith('/') ? file(value) : sheet.parent.resolve(value)
}

// --recipe paper trains BERTs and the CNN on every sequence (no validation split), while bertrbp-finetune scores
// an ensemble on a validation split and refuses the two together (exit 2, not retried). Refuse it here, before
// any task runs, naming the parameter. Ensembles of k-mer models only keep their split under either recipe.
def checkRecipe(Map parameters) {
    if (parameters.recipe != 'paper') {
        return
    }
    def models = [model: parameters.model]
    if (parameters.train_baseline) {
        models.baseline_model = parameters.baseline_model
    }
    models.each { name, value ->
        def members = value.toString().tokenize(',')*.trim()
        if (members.size() > 1 && members.any { member -> !(member in ['kmer', 'kmer-pos', 'kmer-gbt']) }) {
            error("--${name} ${value} is an ensemble, which is scored on a validation split, but --recipe paper trains on every sequence without one: give one model to --${name}, or use --recipe default.")
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Scan and variants modes

// Scan and variants modes score with models fine-tuned before: check that what each mode reads was given.
def checkModeInputs(Map parameters) {
    def mode = parameters.mode
    if (!parameters.models) {
        error("--mode ${mode} needs --models: fine-tuned model folders, comma-separated (NAME=DIR names one), e.g. results/RBFOX2_HepG2/finetune/model.")
    }
    if (mode == 'scan' && !parameters.sequences && !(parameters.regions && parameters.genome)) {
        error("--mode scan needs --sequences FASTA, or --regions BED with --genome FASTA.")
    }
    if (mode == 'scan' && parameters.sequences && parameters.regions) {
        error("--mode scan: give --sequences or --regions, not both.")
    }
    if (mode == 'variants' && !(parameters.vcf && parameters.genome)) {
        error("--mode variants needs --vcf VCF and --genome FASTA (the genome the VCF refers to).")
    }
    if (mode == 'variants' && parameters.strand_bed && parameters.gtf) {
        error("--mode variants: give the strand with --strand_bed or --gtf, not both.")
    }
    ['sequences', 'regions', 'genome', 'vcf', 'strand_bed', 'gtf'].each { name ->
        if (parameters[name] && !file(parameters[name]).exists()) {
            error("--${name} ${parameters[name]}: file not found.")
        }
    }
}

// --models -> [ [meta, model dir], ... ]. NAME=DIR names a model; otherwise it is named after its folder, and
// a folder this pipeline wrote (<outdir>/<id>/finetune/model or .../baseline/model) after its RBP id.
def readModels(String models) {
    def entries = models.tokenize(',').collect { spec -> modelEntry(spec.trim()) }
    def ids = entries.collect { entry -> entry[0].id }
    def repeated = ids.findAll { id -> ids.count(id) > 1 }.unique()
    if (repeated) {
        error("--models: model names must be unique, repeated: ${repeated.join(', ')}; write NAME=DIR to name them.")
    }
    def caseOnly = caseOnlyTwins(ids)
    if (caseOnly) {
        error("--models: model names must differ in more than case (they name files in one folder, and macOS and Windows file systems read them as one): ${caseOnly}; write NAME=DIR to name them.")
    }
    return entries
}

// names that differ only in case, as 'A and a; B and b' ('' when there are none)
def caseOnlyTwins(List names) {
    def groups = names.collect { name -> name.toString() }.toUnique().groupBy { name -> name.toLowerCase() }
    return groups.values().findAll { group -> group.size() > 1 }.collect { group -> group.join(' and ') }.join('; ')
}

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
    if (id.startsWith('-') || id.startsWith('.')) {
        // '-ID.profile.tsv' reads as an option, '.ID.profile.tsv' is hidden from the output globs
        error("--models ${spec}: the model name '${id}' must start with a letter, a digit or '_'; write NAME=DIR.")
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

// The starting model: a local checkpoint folder is staged into each task (portable to cloud executors);
// a preset name or hub id is passed as a string, with [] for the folder.
def modelFolder(String model) {
    def path = file(model)
    return path.exists() ? path : []
}

def helpMessage(Map parameters, manifest) {
    return """
    bert-rbp ${manifest.version}: ${manifest.description}

    Usage:
      nextflow run main.nf -profile <docker|singularity|apptainer|local>[,gpu] --input samplesheet.csv --outdir results
      nextflow run main.nf -profile test                (tiny CPU run on the demo data, tools from bin/)
      nextflow run main.nf --mode scan --models DIR[,DIR] (--sequences FASTA | --regions BED --genome FASTA)
      nextflow run main.nf --mode variants --models DIR[,DIR] --vcf VCF --genome FASTA [--strand_bed BED | --gtf GTF]

    Main options (all options, with help: nextflow_schema.json):
      --mode             train (default), scan or variants [${parameters.mode}]
      --input            samplesheet CSV: id,input,format,positives,negatives,gtf,genome,chain
      --outdir           results folder [${parameters.outdir}]
      --model            checkpoint folder, hub id or random-init preset [${parameters.model}]
      --train_baseline   also train a baseline (--baseline_model: BERT preset, cnn, kmer, kmer-pos, kmer-gbt) [${parameters.train_baseline}]
      --pretrain_corpus  pretrain on these FASTA files first, then fine-tune from that model
      --attribute        attribute test predictions to nucleotides [${parameters.attribute}]
      --epochs           fine-tuning epochs (default: the tool's for the model)
      --test_size        test split: a count or a fraction [${parameters.test_size}]
      --models           fine-tuned model folders for scan and variants modes (NAME=DIR names one)
    """.stripIndent()
}
