/**
 * The error catalogue: every error temporal-mlops raises on purpose has a stable code here, a message template,
 * a retryability flag and a fix hint. `docs/errors.md` has one row per code and `test/docs.test.ts` keeps the two
 * in step.
 *
 * Errors are built as Temporal `ApplicationFailure`s (plain `Error`s outside Temporal too), so activities, workflows,
 * the CLI scripts and the model server all raise the same shape. This module only imports `@temporalio/common`, so
 * workflow code may use it.
 */
import { ApplicationFailure } from '@temporalio/common';

export interface ErrorSpec {
  /** Message template; `{name}` placeholders are filled from the params. */
  readonly message: string;
  /** Whether retrying the same call can succeed (network, 5xx, a busy machine). */
  readonly retryable: boolean;
  /** What the user should do about it. */
  readonly fix: string;
  /**
   * Placeholders of `fix` filled from the params, each with its default when the param is absent. Any other braces in
   * a fix are literal (routes such as `/v1/models/{model}`).
   */
  readonly fixParams?: Readonly<Record<string, string>>;
  /** HTTP status the model server answers with, where the error can reach HTTP. */
  readonly httpStatus?: number;
}

export const errorCatalogue = {
  MLOPS_ERR_CONFIG_INVALID: {
    message: 'Invalid configuration:\n{problems}',
    retryable: false,
    fix: 'Set each listed variable to a valid value; docs/configuration.md lists every variable and its default.',
  },
  MLOPS_ERR_PIPELINE_INPUT_INVALID: {
    message: 'Invalid {workflow} input:\n{problems}',
    retryable: false,
    fix: 'Correct each listed field of the workflow input and start the workflow again; {inputDocs} describes every field.',
    // The workflow's own input page: trainingPipeline's unless the refusing workflow names another (parseWorkflowInput).
    fixParams: { inputDocs: 'docs/pipeline-input.md' },
  },
  MLOPS_ERR_ARTIFACT_URI_INVALID: {
    message: 'Artifact URI "{uri}" is invalid: {reason}',
    retryable: false,
    fix: 'Use a path relative to the artifact store root, without "..", or a file:// or gs:// URI inside the store.',
  },
  MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT: {
    message:
      'Artifact "{uri}" was refused: its path {path} leads outside the store root {root} through a symbolic link',
    retryable: false,
    fix: 'Remove the symbolic link under the artifact store root (a local store never follows links out of its folder), or point MLOPS_ARTIFACT_ROOT at the real folder.',
  },
  MLOPS_ERR_ARTIFACT_NOT_FOUND: {
    message: 'Artifact "{uri}" does not exist',
    retryable: false,
    fix: 'Check the URI, and that MLOPS_ARTIFACT_ROOT points at the store the artifact was written to.',
  },
  MLOPS_ERR_ARTIFACT_BUCKET_NOT_FOUND: {
    message: 'The artifact store {root} is in the Cloud Storage bucket gs://{bucket}, which does not exist{endpoint}',
    retryable: false,
    fix: 'Create the bucket, or set MLOPS_ARTIFACT_ROOT to gs://<existing bucket>/<prefix> on every worker and command that shares the store, and restart the workers; with fake-gcs-server check MLOPS_GCS_API_ENDPOINT.',
  },
  MLOPS_ERR_DATA_SOURCE_NOT_FOUND: {
    message: 'Dataset source "{source}" was not found: {reason}',
    retryable: false,
    fix: 'Check the path or URI in the input field that names it (dataset.uri of a trainingPipeline, labels.uri of a monitorModel run): relative paths resolve against the worker directory; for gs:// check the bucket and object names (and MLOPS_GCS_API_ENDPOINT when using an emulator); an http(s) URL must answer 200.',
  },
  MLOPS_ERR_DATA_SOURCE_FORBIDDEN: {
    message: 'Reading dataset source "{source}" was refused: {reason}',
    retryable: false,
    fix: "For gs://, grant the pipeline worker's credentials (Application Default Credentials) roles/storage.objectViewer on the bucket; for http(s), the URL must be readable without credentials (or copy the file to gs://).",
  },
  MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED: {
    message: 'Dataset source "{source}" is not one this worker may read: {reason}',
    retryable: false,
    fix: 'Put local files under one of the data roots (MLOPS_DATA_ROOTS on the pipeline worker; /proc, /sys and /dev never). An http(s) host on a loopback, link-local or private address must be listed in MLOPS_HTTP_ALLOWED_HOSTS, and so must every host a redirect leads to. docs/security.md explains both.',
  },
  MLOPS_ERR_DATA_SOURCE_INVALID: {
    message: 'Dataset source "{source}" is not a valid {kind} URI: {reason}',
    retryable: false,
    fix: 'Use a local path, file://, http(s)://, gs://bucket/object, bq://project.dataset.table or bq://project?query=<url-encoded SQL>; docs/datasets.md lists the forms.',
  },
  MLOPS_ERR_DATA_FORMAT_UNSUPPORTED: {
    message: 'Dataset source "{source}" has an unsupported format "{format}"',
    retryable: false,
    fix: 'Use a .csv, .parquet or .jsonl file, or set dataset.format explicitly.',
  },
  MLOPS_ERR_DATA_FORMAT_MISMATCH: {
    message: 'Dataset source "{source}" is not a {format} file, though {claim}: {reason}',
    retryable: false,
    fix: 'Set dataset.format (the format field of ingestDataset) to what the file holds: csv, parquet or jsonl; or leave it out and give the file the matching extension (.csv, .parquet, .jsonl or .ndjson, plus .gz when compressed). Then ingest it again.',
  },
  MLOPS_ERR_DATA_UNREADABLE: {
    message: 'Dataset source "{source}" could not be parsed: {reason}',
    retryable: false,
    fix: 'Fix the file at the reported place (quoting, column count, encoding) and ingest it again.',
  },
  MLOPS_ERR_DATA_EMPTY: {
    message: 'Dataset source "{source}" has no data rows: {reason}',
    retryable: false,
    fix: 'Point dataset.uri at a file with a header and at least one data row (or a BigQuery table or query with rows).',
  },
  MLOPS_ERR_DATA_HEADER_LINE_BREAK: {
    message:
      'Dataset source "{source}" names a column with a line break inside its quotes ({column}): with CRLF line ends, the CSV reader then finds no rows after the header, though the file has some',
    retryable: false,
    fix: 'Rename the column in the header (the first line) without the line break, or save the file with LF line ends, then ingest it again.',
  },
  MLOPS_ERR_DATA_HEADER_NUL: {
    message:
      'Dataset source "{source}" names a column with a NUL character ({column}): no step can name such a column in SQL',
    retryable: false,
    fix: 'Rename the column without the NUL character (a CSV header, a JSON key, a Parquet field), then ingest it again; a file with NUL characters throughout is not UTF-8 text (save it as UTF-8).',
  },
  MLOPS_ERR_DATA_ROW_MALFORMED: {
    message: 'Dataset source "{source}" cannot be parsed at line {line}: {problem}',
    retryable: false,
    fix: 'Fix that line: a CSV row needs exactly as many fields as the header, and a value containing a comma, quote or line break must be in double quotes with inner quotes doubled (RFC 4180); a JSON Lines line must be one complete JSON object.',
  },
  MLOPS_ERR_DATA_CSV_SEPARATOR: {
    message:
      'Dataset source "{source}" seems separated by {separator}, not commas: its header reads as one column holding them, and its first {rows} data rows split by them into {fields} fields as the header does; only comma-separated CSV (RFC 4180) is read',
    retryable: false,
    fix: 'Save the file with commas between values (and decimal points, not decimal commas), e.g. as "CSV (comma delimited)" from a spreadsheet, or as Parquet, and ingest it again.',
  },
  MLOPS_ERR_DATA_NOT_UTF8: {
    message:
      'Dataset source "{source}" is not UTF-8 text: line {line} has the byte {byte} at character {column}, which is not valid UTF-8 (Latin-1 or Windows-1252 text, such as a spreadsheet\'s export of é or ü, looks like this)',
    retryable: false,
    fix: 'Re-save the file as UTF-8 (from a spreadsheet as "CSV UTF-8"; on the command line: iconv -f latin1 -t utf-8 data.csv > data-utf8.csv, or -f windows-1252) and ingest that file.',
  },
  MLOPS_ERR_DATA_MIXED_TYPES: {
    message:
      'Column "{column}" of dataset source "{source}" mixes numbers and text: row {row} has "{value}" while {numbers} of its {values} values are numbers',
    retryable: false,
    fix: 'Correct or blank out the non-numeric values (write a missing value as an empty field, not NA or a word) and ingest again; docs/datasets.md explains the rule.',
  },
  MLOPS_ERR_DATA_NUMBER_GROUPING: {
    message:
      'Column "{column}" ({role}) of dataset "{source}" holds numbers written with thousands separators ({detail}). Read as text, they would become categories, and a model would learn nothing of their size',
    retryable: false,
    fix: 'Write the numbers without separators in the data (2532 and 1234567.5, not "2,532" and "1,234,567.5"; a spreadsheet does so when it saves CSV from cells without number formatting) and ingest again. If the values are codes, not quantities, give them a form that is no number (a prefix: "id-2,532").',
  },
  MLOPS_ERR_DATA_VALUE_NOT_FINITE: {
    message:
      'Column "{column}" of dataset source "{source}" has {value} at row {row} ({count} NaN or infinite values in the column)',
    retryable: false,
    fix: 'Replace NaN and ±Infinity with a number, or leave the field empty (null) so preprocessing imputes it, and ingest again.',
  },
  MLOPS_ERR_DATA_VALUE_OUT_OF_RANGE: {
    message:
      'Column "{column}" of dataset source "{source}" has {value} at row {row}, outside the float32 range (±{limit}) that models take ({count} such values in the column)',
    retryable: false,
    fix: 'Rescale the column (other units, or its logarithm), or leave those fields empty (null) so preprocessing imputes them, and ingest again.',
  },
  MLOPS_ERR_DATA_COLUMN_MISSING: {
    message: 'Column "{column}" ({role}) is not in dataset "{source}"; its columns are: {columns}',
    retryable: false,
    fix: 'Use one of the listed column names in the pipeline input (target or features).',
  },
  MLOPS_ERR_DATA_FEATURE_TEMPORAL: {
    message:
      'Column "{column}" of dataset "{source}" is {type}, a date or time type, so it cannot be a feature: a value seen in serving rarely equals one seen in training, and its text differs from source to source',
    retryable: false,
    fix: 'Leave it out of the pipeline input field features (without a features list, date and time columns are left out by themselves), or derive numeric columns from it in the data (day of week, hour, age in days) and list those.',
  },
  MLOPS_ERR_DATA_OUT_OF_MEMORY: {
    message:
      'The data step needed more memory than DuckDB may hold ({limit} per instance, MLOPS_DATA_MEMORY_LIMIT): {detail}',
    retryable: false,
    fix: 'A file of thousands of columns is the usual cause (the default 512MB ingests about 3,000, numeric or text, and profiles and preprocesses 3,000 numeric ones; writing 6,000 preprocessed columns needs 2GB): ingest a file with only the columns a model uses (ingest reads every column; preprocessing only the listed features and the target), or raise MLOPS_DATA_MEMORY_LIMIT on the pipeline worker (e.g. 2GB; the worker needs that much free memory for each data step running at once, times MLOPS_DATA_THREADS where steps run statements side by side) and restart it.',
  },
  MLOPS_ERR_DATA_FEATURE_BINARY: {
    message:
      'Column "{column}" of dataset "{source}" is {type}, binary data, so it cannot be a feature: a prediction request sends JSON numbers, text, booleans or null, and the warehouse\'s text for bytes (\\x00) is nothing a request would send',
    retryable: false,
    fix: 'Leave it out of the pipeline input field features (without a features list, binary columns are left out by themselves), or store the value as text or numbers in the data and list that column.',
  },
  MLOPS_ERR_DATA_NO_FEATURES: {
    message:
      'Dataset "{source}" has no column to learn {target} from: every other column is left out. Left out: {columns}',
    retryable: false,
    fix: 'Add columns of numbers, text categories or booleans that help predict the target to the data (derive numbers from a date column: day of week, age in days), then ingest it again; or name usable columns in the pipeline input field features.',
  },
  MLOPS_ERR_DATA_FEATURE_NESTED: {
    message:
      'Column "{column}" of dataset "{source}" is {type}, a nested type (a list, struct or map), so it cannot be a feature: a prediction request sends one number, text, boolean or null per field, and the warehouse\'s text for a nested value ([1, 2], {\'k\': 1}) is no category a request could match',
    retryable: false,
    fix: 'Leave it out of the pipeline input field features (without a features list, nested columns are left out by themselves), or flatten it in the data into columns of numbers or text (one per field or element, e.g. address_city, tags_count) and list those.',
  },
  MLOPS_ERR_DATA_FEATURE_MIXED_JSON: {
    message:
      'Column "{column}" of dataset "{source}" is {type}: a JSON Lines key whose values are of different kinds (numbers and text, or lists and objects beside plain values), so it cannot be a feature: as categories its values would keep their JSON quotes ("10"), which no value in a prediction request matches',
    retryable: false,
    fix: 'Make every value of the key the same kind in the source file (all numbers, or all text: "10" rather than 10; nested values flattened into keys of their own) and ingest it again, or leave it out of the pipeline input field features (without a features list, such columns are left out by themselves).',
  },
  MLOPS_ERR_DATA_TOO_FEW_ROWS: {
    message: 'Dataset "{source}" has {rows} usable rows; the {split} split would be empty',
    retryable: false,
    fix: 'Provide more rows; or, when the test or validation split is the empty one, raise split.testFraction or split.validationFraction (when it is the train split, lower them).',
  },
  MLOPS_ERR_DATA_TARGET_INVALID: {
    message: 'Target column "{column}" of dataset "{source}" cannot be used for {task}: {reason}',
    retryable: false,
    fix: 'Classification needs 2 or more classes among the rows with a target (rows whose target is null are dropped); regression needs a numeric target.',
  },
  MLOPS_ERR_DATA_TOO_MANY_CLASSES: {
    message:
      'Target column "{column}" of dataset "{source}" has {classes} distinct values, more than the {limit} classes a classification target may have',
    retryable: false,
    fix: 'If the target is a quantity, set the pipeline input field task to "regression"; if it really has that many classes, raise preprocessing.maxClasses (up to 1000) and set task to "classification".',
  },
  MLOPS_ERR_DATA_FEATURE_ALL_NULL: {
    message: 'Feature column "{column}" of dataset "{source}" has no values (all {rows} rows are null)',
    retryable: false,
    fix: 'Leave the column out of the pipeline input field features, or fill it in the source and ingest it again; the snapshot manifest lists such columns under warnings.',
  },
  MLOPS_ERR_DATA_COLUMN_RESERVED: {
    message:
      'Columns of dataset "{source}" with a name the pipeline reserves for a column of its own: {columns} (reserved, compared regardless of case: {reserved})',
    retryable: false,
    fix: 'Rename the column in the source data (e.g. label instead of __label, row instead of __row), or drop it, and ingest and run again; docs/preprocessing.md ("Column names") lists the reserved names.',
  },
  MLOPS_ERR_PROFILE_OUT_OF_MEMORY: {
    message:
      'Profiling snapshot "{snapshotId}" ({columns} columns, {numeric} numeric) ran out of DuckDB memory ({limit} per instance, MLOPS_DATA_MEMORY_LIMIT): {reason}',
    retryable: false,
    fix: 'Raise MLOPS_DATA_MEMORY_LIMIT on the pipeline worker and restart it, or ingest the dataset again without the columns the model does not use (identifiers, free text, unused measurements) and run the pipeline on that snapshot. Profile queries are bounded to 100 numeric columns (or 1,000 correlation pairs) each, so a table of any width should fit; if this one does not, report its shape (the column counts above and its row count) as a bug (docs/profiling.md, "Wide tables").',
  },
  MLOPS_ERR_WAREHOUSE_NOT_CONFIGURED: {
    message: 'The {warehouse} warehouse was chosen for dataset "{source}" but {missing} is not set',
    retryable: false,
    fix: 'Set MLOPS_GCP_PROJECT and MLOPS_BIGQUERY_DATASET (docs/configuration.md) on the pipeline worker and restart it, or leave the pipeline input field warehouse out to use the embedded DuckDB.',
  },
  MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND: {
    message: 'Dataset snapshot "{snapshotId}" is not in the artifact store {root}',
    retryable: false,
    fix: 'Run `npm run datasets -- list` to see the stored snapshot ids, and check that MLOPS_ARTIFACT_ROOT points at the store the pipeline wrote to.',
  },
  MLOPS_ERR_DATA_EXPORT_INVALID: {
    message: 'Cannot export the snapshot to {file}: {reason}',
    retryable: false,
    fix: 'Name a file ending in .csv, .parquet or .jsonl in an existing folder; add --force to replace a file already there.',
  },
  MLOPS_ERR_BIGQUERY_NOT_FOUND: {
    message: 'BigQuery source "{source}" names something that does not exist: {reason}',
    retryable: false,
    fix: 'Check the project, dataset and table names (bq://project.dataset.table, case-sensitive) and the location: add ?location=EU (or the region) for datasets outside the US.',
  },
  MLOPS_ERR_BIGQUERY_PERMISSION_DENIED: {
    message: 'BigQuery refused to read source "{source}": {reason}',
    retryable: false,
    fix: "Grant the pipeline worker's credentials (Application Default Credentials) roles/bigquery.dataViewer on the dataset and roles/bigquery.jobUser on the project that runs query jobs (the bq:// project, or the BigQuery projectId the worker is given).",
  },
  MLOPS_ERR_BIGQUERY_REQUEST_INVALID: {
    message: 'BigQuery rejected the request for source "{source}": {reason}',
    retryable: false,
    fix: 'Fix the query (GoogleSQL, not legacy SQL; run it in the BigQuery console to see the whole error) or the table name, and ingest again.',
  },
  MLOPS_ERR_GCP_CREDENTIALS_MISSING: {
    message: 'No Google Cloud credentials were found for {service}: {reason}',
    retryable: false,
    fix: 'Give the worker Application Default Credentials and restart it: GOOGLE_APPLICATION_CREDENTIALS=<service account key file>, `gcloud auth application-default login`, or a service account of the machine on Google Cloud. Against bigquery-emulator set MLOPS_BIGQUERY_API_ENDPOINT (e.g. http://127.0.0.1:9050) and leave GOOGLE_APPLICATION_CREDENTIALS unset: the clients then send a fixed token and need no credentials (docs/datasets.md, "Emulators").',
  },
  MLOPS_ERR_GCP_CREDENTIALS_INVALID: {
    message: 'The Google Cloud credentials for {service} cannot be used ({source}): {reason}',
    retryable: false,
    fix: "Point GOOGLE_APPLICATION_CREDENTIALS at a service account key file (JSON) that exists and this worker can read, or unset it to use the other Application Default Credentials (`gcloud auth application-default login`, the machine's service account), and restart the worker.",
  },
  MLOPS_ERR_WAREHOUSE_NOT_FOUND: {
    message: 'The BigQuery warehouse dataset {dataset} cannot be used: {reason}',
    retryable: false,
    fix: "Check MLOPS_GCP_PROJECT (the project that runs the warehouse's query jobs, and holds the dataset unless MLOPS_BIGQUERY_DATASET is project.dataset) and MLOPS_BIGQUERY_DATASET on the pipeline worker, and restart it; the dataset is created when missing, the project must exist.",
  },
  MLOPS_ERR_PREPROCESS_INPUT_INVALID: {
    message:
      'The pipeline input cannot be preprocessed on dataset "{source}": {count} problems, each with its code and fix:\n{problems}',
    retryable: false,
    fix: 'Correct every listed problem (docs/errors.md has each code), then start the pipeline again.',
  },
  MLOPS_ERR_PREPROCESS_SPEC_INVALID: {
    message: 'The preprocessing spec cannot be applied to dataset "{source}":\n{problems}',
    retryable: false,
    fix: 'Correct each listed field of the pipeline input field preprocessing (docs/preprocessing.md describes every option) and start the pipeline again.',
  },
  MLOPS_ERR_CODEC_KEY_UNKNOWN: {
    message: 'A payload was encrypted with key "{keyId}", which this process does not have (keys: {known})',
    retryable: false,
    fix: 'Keep every key that encrypted payloads of open histories in MLOPS_PAYLOAD_KEYS (new key first, old ones after it) on every worker, client and codec server.',
  },
  MLOPS_ERR_TRAIN_COMMAND_FAILED: {
    message: 'Trainer "{trainer}" exited with {exit}. Last output:\n{tail}',
    retryable: false,
    fix: 'Read the trainer output above (all of it is in trainer.log in the output folder); run the trainer by hand with the same flags (docs/trainer-contract.md) to debug it.',
  },
  MLOPS_ERR_TRAIN_COMMAND_NOT_FOUND: {
    message: 'Trainer "{trainer}" cannot be started: {reason}',
    retryable: false,
    fix: 'For trainer.kind "torch-tabular" the program is the Python of its environment: run `npm run setup` (or `bash scripts/setup-python.sh`) on the training worker, or set MLOPS_PYTHON to a Python with torch, numpy and pyarrow. For a trainer registered in MLOPS_TRAINERS, the first element of its argv must be a program on the training worker.',
  },
  MLOPS_ERR_TRAIN_ARGUMENTS_TOO_LONG: {
    message: 'Trainer "{trainer}" cannot be started: {reason}',
    retryable: false,
    fix: 'Give the model fewer input columns: lower preprocessing.features.<name>.maxCategories of a categorical feature with many values, or leave free-text and identifier columns out of features (each one-hot category is a column named in --feature-columns). Then run the pipeline again.',
  },
  MLOPS_ERR_TRAIN_TRAINER_UNKNOWN: {
    message: 'Trainer "{trainer}" is not registered on this training worker (registered: {registered})',
    retryable: false,
    fix: 'Name one of the registered trainers in trainer.kind, or register yours on the training workers of that task queue: MLOPS_TRAINERS=\'{"name":["program","arg"]}\' (docs/trainer-contract.md).',
  },
  MLOPS_ERR_TRAIN_OUTPUT_MISSING: {
    message: 'Trainer "{trainer}" finished but did not write {file} to {output}',
    retryable: false,
    fix: 'A trainer must write model.onnx and metrics.json to its --output folder (docs/trainer-contract.md).',
  },
  MLOPS_ERR_TRAIN_METRICS_INVALID: {
    message:
      'Trainer "{trainer}" wrote {uri}, which is not JSON: {reason} at line {line}, column {column} (position {position}), near: {near}',
    retryable: false,
    fix: 'Write metrics.json as strict JSON (RFC 8259): double-quoted names and strings, no trailing commas, no comments; in Python `json.dump(metrics, f)`. NaN, Infinity and -Infinity are accepted and read as null (not measured); docs/trainer-contract.md describes the file.',
  },
  MLOPS_ERR_TRAIN_NO_PROGRESS: {
    message: 'Trainer "{trainer}" printed no progress event for {seconds}s and was killed',
    retryable: true,
    fix: 'A hang can be transient (a stalled file system or data loader), so the step is retried and resumes from the last checkpoint. A trainer must print a JSON progress line (docs/trainer-contract.md) more often than trainer.heartbeatTimeoutSeconds: raise it when one epoch takes longer. Its whole output is in trainer.log in the output folder.',
  },
  MLOPS_ERR_TRAIN_EVENT_UNREADABLE: {
    message:
      'Trainer "{trainer}" printed no readable progress event for {seconds}s and was killed: {count} line(s) since its last event began like one ({"type": …) but are not JSON; the last: {line} ({reason})',
    retryable: false,
    fix: 'Print each event as one line of strict JSON (docs/trainer-contract.md): in Python `print(json.dumps(event), flush=True)`, never `print(event)` (a Python dict is not JSON). NaN, Infinity and -Infinity are accepted and read as null.',
  },
  MLOPS_ERR_VERTEX_SETTING_MISSING: {
    message: 'The Vertex AI job for model "{model}" cannot be submitted; missing: {missing}',
    retryable: false,
    fix: 'Set each listed variable (docs/configuration.md) on the pipeline worker, which submits and watches the Vertex AI job, and restart it; or the pipeline field trainer.vertex.imageUri for the image; docs/vertex-ai.md lists them all.',
  },
  MLOPS_ERR_VERTEX_REQUEST_INVALID: {
    message: 'Vertex AI rejected {operation} for "{resource}": {reason}',
    retryable: false,
    fix: 'Correct the setting the reason names: machine type, accelerator type and count must be offered in MLOPS_VERTEX_LOCATION, the image must be a full registry URI, the job name must be projects/…/locations/…/customJobs/….',
  },
  MLOPS_ERR_VERTEX_NOT_FOUND: {
    message: 'Vertex AI has no "{resource}" ({operation}): {reason}',
    retryable: false,
    fix: 'Check that MLOPS_GCP_PROJECT and MLOPS_VERTEX_LOCATION name the project and region the job was submitted to (the job name shows both); a deleted job cannot be waited for, so start the pipeline again.',
  },
  MLOPS_ERR_VERTEX_PERMISSION_DENIED: {
    message: 'Vertex AI refused {operation} on "{resource}": {reason}',
    retryable: false,
    fix: "Give the pipeline worker's credentials (Application Default Credentials) roles/aiplatform.user on the project, and the job's service account (MLOPS_VERTEX_SERVICE_ACCOUNT) read/write access to the staging bucket.",
  },
  MLOPS_ERR_VERTEX_JOB_FAILED: {
    message: 'Vertex AI job "{job}" (image {image}) ended {state}: {reason}',
    retryable: false,
    fix: "Read the job's logs (Cloud Console → Vertex AI → Training → Custom jobs, or Cloud Logging); run the image locally with the same args (docs/trainer-contract.md) to debug it.",
  },
  MLOPS_ERR_VERTEX_JOB_CANCELLED: {
    message: 'Vertex AI job "{job}" was cancelled outside this pipeline run',
    retryable: false,
    fix: 'Start the pipeline again. To stop a run, cancel its workflow: that cancels the job too.',
  },
  MLOPS_ERR_VERTEX_JOB_EXPIRED: {
    message: 'Vertex AI job "{job}" expired before it could run (no {machine} capacity in time)',
    retryable: false,
    fix: 'Start the pipeline again later, or pick a machine type, accelerator or region (MLOPS_VERTEX_*) with free capacity.',
  },
  MLOPS_ERR_MODEL_INVALID: {
    message: 'Model "{uri}" cannot be used: {reason}',
    retryable: false,
    fix: 'Export the model to ONNX as docs/trainer-contract.md says: one float32 input "features" [batch, n] with a dynamic batch axis, and "probabilities" [batch, classes] (each row a softmax over the classes, not logits) or "prediction" [batch, 1].',
  },
  MLOPS_ERR_MODEL_TRANSFORM_INVALID: {
    message: 'Fitted transform "{uri}" cannot be used: {problem}',
    retryable: false,
    fix: "Restore the version's transform.json (the preprocessing step writes it; the registry keeps a copy per version), or register and deploy a version whose transform is intact.",
  },
  MLOPS_ERR_EVALUATION_ONE_CLASS: {
    message:
      'The test split of model "{model}" holds {rows} rows, all of class {label}: no metric tells a model from a constant answer on it',
    retryable: false,
    fix: 'Set preprocessing.stratify to true so each split keeps the class proportions, or raise split.testFraction; a class with only a handful of rows needs more data before a model of it can be judged.',
  },
  MLOPS_ERR_EVALUATION_TARGET_MISMATCH: {
    message:
      'Model "{model}" v{version}, the champion (alias {alias}), predicts "{championTarget}"; the model of this run predicts "{target}", which cannot be compared with it (their metrics measure different quantities) or replace it: the clients of "{model}" expect predictions of "{championTarget}"',
    retryable: false,
    fix: 'Train it under another model name (a model predicts one target), or, if the column was only renamed, name the target as the champion does ("{championTarget}").',
    fixParams: { championTarget: "the champion's target" },
  },
  MLOPS_ERR_EVALUATION_TASK_MISMATCH: {
    message:
      'Model "{model}" v{version}, the champion (alias {alias}), is a {championTask} model; the model of this run is a {task} model, which cannot be compared with it or replace it: the clients of "{model}" expect {championTask} answers',
    retryable: false,
    fix: 'Train it under another model name (a model keeps one task), or set task and target to those of the champion.',
  },
  MLOPS_ERR_REGISTRY_NOT_FOUND: {
    message: 'Model "{model}" has no {what} in the registry at {root}',
    retryable: false,
    fix: 'Run trainingPipeline for this model first, or check the model name and alias, and that MLOPS_ARTIFACT_ROOT (or MLOPS_STATE_DIR) names the store the pipeline wrote to.',
    httpStatus: 404,
  },
  MLOPS_ERR_SERVE_INPUT_INVALID: {
    message: 'Prediction request is invalid: {problems}',
    retryable: false,
    fix: 'Send {"instances": [{...}]} with every feature the model was trained on (GET /v1/models/{model} lists them).',
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_V2_INPUT_INVALID: {
    message: 'Inference request is invalid: {problems}',
    retryable: false,
    fix: 'Send one input per feature the model was trained on, each with one value per row (GET /v2/models/{model} lists them with their datatypes); row i is the i-th value of every input.',
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_BODY_INVALID: {
    message: 'Request body is not valid JSON: {reason}',
    retryable: false,
    fix: 'Send one JSON document (no NaN or Infinity tokens, no trailing text) with Content-Type: application/json.',
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_BODY_TOO_LARGE: {
    message: 'Request body is larger than the limit of {limit} bytes',
    retryable: false,
    fix: 'Split the instances over several requests, or raise MLOPS_SERVE_BODY_LIMIT on the server.',
    httpStatus: 413,
  },
  MLOPS_ERR_SERVE_MEDIA_TYPE: {
    message: 'Content type {contentType} is not accepted on {path}; send {accepted}',
    retryable: false,
    fix: 'Set the Content-Type header to the type named in the message.',
    httpStatus: 415,
  },
  MLOPS_ERR_SERVE_CONTENT_ENCODING: {
    message: 'Content-Encoding {encoding} is not accepted on {path}; only identity (an uncompressed body) is',
    retryable: false,
    fix: 'Send the body uncompressed, without a Content-Encoding header (or with Content-Encoding: identity).',
    httpStatus: 415,
  },
  MLOPS_ERR_SERVE_TOO_MANY_INSTANCES: {
    message: 'The request has {count} instances; the limit is {limit} per request',
    retryable: false,
    fix: 'Split the instances over several requests, or raise MLOPS_SERVE_MAX_INSTANCES on the server.',
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_MODEL_NOT_SERVED: {
    message: 'Model {model}{version} is not served here: this server serves model "{served}", {versions}',
    retryable: false,
    fix: 'Send the request to the server of that model, or name the model and a version this server serves (GET /v1/models lists them).',
    httpStatus: 404,
  },
  MLOPS_ERR_SERVE_URL_INVALID: {
    message: 'Request path {path} cannot be routed: {reason}',
    retryable: false,
    fix: 'Percent-encode the path as UTF-8 (no half characters, %23 for a # that is part of it), send no #fragment, and keep each part of it, such as the model name, under 100 characters.',
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_ROUTE_NOT_FOUND: {
    message: 'No route {method} {url}',
    retryable: false,
    fix: 'Use a route the server lists in the README: /v1/models/{model}:predict, /v2/models/{model}/infer, /healthz, /readyz.',
    httpStatus: 404,
  },
  MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED: {
    message: 'Method {method} is not allowed on {url}; it takes {allowed}',
    retryable: false,
    fix: 'Send the request with the method the Allow header names: predictions are POSTed to /v1/models/{model}:predict and /v2/models/{model}/infer.',
    httpStatus: 405,
  },
  MLOPS_ERR_SERVE_DEPLOYMENT_INVALID: {
    message: 'The deployment record of model "{model}" is invalid: {problem}',
    retryable: false,
    fix: 'Write {"stable": <version>, "canary"?: {"version": <version>, "weight": <0..1>}} (src/models/deployment-record.ts).',
  },
  MLOPS_ERR_SERVE_UNAUTHORIZED: {
    message: 'This server needs an API key: {reason}',
    retryable: false,
    fix: 'Send "Authorization: Bearer <key>" with one of the keys in the server\'s MLOPS_SERVE_API_KEYS.',
    httpStatus: 401,
  },
  MLOPS_ERR_SERVE_HTTP_INVALID: {
    message: 'The request is not valid HTTP/1.1: {reason} ({code})',
    retryable: false,
    fix: "Send one Content-Length (a whole number) or Transfer-Encoding: chunked, not both; header names of letters, digits and !#$%&'*+-.^_`|~; CRLF line ends. Any HTTP client library does.",
    httpStatus: 400,
  },
  MLOPS_ERR_SERVE_EXPECTATION_FAILED: {
    message: 'The server cannot meet "Expect: {expect}"; it meets only 100-continue',
    retryable: false,
    fix: 'Send the request without the Expect header, or with Expect: 100-continue.',
    httpStatus: 417,
  },
  MLOPS_ERR_SERVE_HEADERS_TOO_LARGE: {
    message: 'The request head is larger than the limit of {limit} bytes',
    retryable: false,
    fix: 'Send fewer or shorter headers (a long query string or cookie is the usual cause).',
    httpStatus: 431,
  },
  MLOPS_ERR_SERVE_REQUEST_TIMEOUT: {
    message: 'The request did not arrive in full within {limit} ms of its first byte; the connection is closed',
    retryable: true,
    fix: 'Send the whole request at once (a body is read only when complete); on a slow link send fewer instances per request, or raise MLOPS_SERVE_REQUEST_TIMEOUT_MS on the server.',
    httpStatus: 408,
  },
  MLOPS_ERR_SERVE_INTERNAL: {
    message: 'An unexpected error occurred; the details are in the server log',
    retryable: true,
    fix: 'Retry; if it persists, report it with the server log lines around the time of the request.',
    httpStatus: 500,
  },
  MLOPS_ERR_DRIFT_FEATURE_MISSING: {
    message: 'The window to check for drift has no column for reference feature(s) {features}',
    retryable: false,
    fix: 'Log every feature the model was trained on with each prediction, or mute the feature and leave it out of the reference passed to the drift check.',
  },
  MLOPS_ERR_DRIFT_WINDOW_EMPTY: {
    message: 'The window to check for drift has no rows (feature "{feature}" has neither a value nor a null)',
    retryable: false,
    fix: 'Skip windows below the minimum row count instead of checking them, or widen the window. (A feature that is null in every row of a window is judged by its missing values, not refused.)',
  },
  MLOPS_ERR_DRIFT_REFERENCE_MISSING: {
    message: 'Profile "{uri}" has no drift reference for column "{column}" (profile format {version})',
    retryable: false,
    fix: 'Profile the training snapshot again with this version (profile format 3 stores the drift reference); the profile activity recomputes older formats by itself.',
  },
  MLOPS_ERR_CONTROLLER_UPDATE_REJECTED: {
    message: 'The model controller refused the request: {reason}',
    retryable: false,
    fix: 'Do what the reason says, then send the request again if it still applies; `npm run models -- status {model}` shows the state the request must fit (the versions it serves, a canary baking or a version waiting for approval, the features its versions take).',
    fixParams: { model: '<model>' },
  },
  MLOPS_ERR_MONITOR_PROFILE_MISSING: {
    message:
      'Model "{model}" version {version} has no stored training profile at {uri}, so there is no drift reference',
    retryable: false,
    fix: "Profile the version's training snapshot (the trainingPipeline does it in its profile step; rerunning the pipeline on the same data reuses the snapshot and writes the profile), then run the check again.",
  },
  MLOPS_ERR_MONITOR_UNKNOWN_FEATURE: {
    message:
      'The drift check of model "{model}" names {names} in {fields}, which version {version} does not take; its features are {features}',
    retryable: false,
    fix: "Use the version's feature names (as in its transform and its requests) in muted and thresholds (where `prediction` also names the output), or remove the names of features the version no longer has, in the schedule's or the run's input.",
  },
  MLOPS_ERR_MONITOR_WINDOW_IN_FUTURE: {
    message:
      'The drift check of model "{model}" would end its window at {until}, after {now}: rows after now are not logged yet, and the stored watermark would make every later run skip until then',
    retryable: false,
    fix: 'Give an `until` in the past (with its zone, e.g. 2026-12-01T00:00:00Z), or leave it out: a run ends its window at its start minus lagSeconds.',
  },
  MLOPS_ERR_MONITOR_LOG_LAYOUT: {
    message:
      'The Parquet files under {folder} are not prediction log parts this version reads (an "output" group and a "features" group, or both as JSON); found the columns {found}',
    retryable: false,
    fix: 'Keep only the parts the model server writes under predictions/<model>/date=YYYY-MM-DD/ (every .parquet file there is read as a log part): move other files out of the folder and run the check again.',
  },
  MLOPS_ERR_MONITOR_LOG_TABLE_MISSING: {
    message:
      'The drift check of model "{model}" asks for the BigQuery prediction log, but the worker has no log table configured',
    retryable: false,
    fix: 'Set MLOPS_SERVE_LOG_BIGQUERY_TABLE (dataset.table, as the model server has it) and MLOPS_GCP_PROJECT on the pipeline workers, with MLOPS_SERVE_LOG not false, and restart them; or monitor with log: "parquet".',
  },
  MLOPS_ERR_MONITOR_LOG_TABLE_UNREACHABLE: {
    message: 'The drift check cannot read the BigQuery prediction log {table}: {reason}',
    retryable: false,
    fix: 'Check MLOPS_GCP_PROJECT and the dataset of MLOPS_SERVE_LOG_BIGQUERY_TABLE (dataset.table) on the pipeline workers: they must name the project and dataset the model server writes the log to (the model server creates the table when missing, but not its dataset); restart the workers.',
  },
  MLOPS_ERR_ROLLOUT_INPUT_INVALID: {
    message: 'A rollout step of model "{model}" got invalid input: {problems}',
    retryable: false,
    fix: 'Correct each listed field: versions are registry version numbers, a canary is another version than the stable one with a weight above 0 and below 1, and a window is two ISO times, since before until.',
  },
  MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE: {
    message: 'Model "{model}" version {version} cannot be the {role}: {reason}',
    retryable: false,
    fix: 'Deploy a version that exists and loads (registry/<model>/versions/ in the artifact store lists them); re-register the version if its files were removed or damaged. The deployment was not changed.',
  },
  MLOPS_ERR_ROLLOUT_STATS_UNAVAILABLE: {
    message: 'No model server of "{model}" answered the stats request: {reasons}',
    retryable: true,
    fix: 'Check that the servers listed in the controller input (servers) are running and reachable from the pipeline worker. The step tries a few times; a canary step that still fails is recorded and tried again by the controller, and a request (deploy) that failed can be sent again once a server answers.',
  },
  MLOPS_ERR_ROLLOUT_STATS_REFUSED: {
    message: 'Every model server of "{model}" refused the stats request: {reasons}',
    retryable: false,
    fix: 'A 401 means the servers require an API key: set MLOPS_SERVE_API_KEYS on the pipeline worker to include one of their keys (the first is sent). A 404 means the server serves another model or an older version without /v1/models/<model>/stats: check the controller input (servers, modelName).',
  },
  MLOPS_ERR_NOTIFY_FAILED: {
    message: 'The {event} notification of model "{model}" was not delivered: {reason}',
    retryable: true,
    fix: 'Check that the webhook service is up and reachable from the pipeline worker; the notification is retried.',
  },
  MLOPS_ERR_NOTIFY_REJECTED: {
    message: 'The webhook refused the {event} notification of model "{model}" with HTTP {status}: {answer}',
    retryable: false,
    fix: 'Check MLOPS_NOTIFY_WEBHOOK_URL on the pipeline worker: a 404 or 410 means the webhook was deleted or the URL is wrong (create a new one and set it), a 401 or 403 means it is not allowed to post, a 3xx means the URL moved (set the URL it points to), a 400 means the receiver does not accept Slack-style JSON ({"text", "blocks"}).',
  },
  MLOPS_ERR_LABELS_COLUMN_MISSING: {
    message: 'Labels source "{source}" has no {role} column "{column}" (its columns: {columns})',
    retryable: false,
    fix: "Name the source's columns in the monitorModel input: labels.idColumn (default request_id, the id the model server answered with), labels.labelColumn (default label) and labels.instanceColumn when one request carries several instances.",
  },
  MLOPS_ERR_LABELS_SOURCE_EMPTY: {
    message: 'Labels source "{source}" is empty: it has no header row and no rows',
    retryable: false,
    fix: 'Write the labels with a header row naming the id column (labels.idColumn, default request_id) and the label column (labels.labelColumn, default label), or point labels.uri at the file that holds them; a header with no rows yet is read as no labels arrived.',
  },
  MLOPS_ERR_LABELS_CONFLICT: {
    message: 'Labels source "{source}" gives different labels for the same prediction, {count} id(s): {ids}',
    retryable: false,
    fix: 'When clients send several instances per request, label each by its position too: name that column with labels.instanceColumn (`--instance-column`), or every label of a request is taken for its first instance. Otherwise keep one label per request id (and instance): drop the wrong rows, or correct the join that produced them; identical repeated labels are only counted.',
  },
  MLOPS_ERR_LABELS_INVALID: {
    message:
      'Labels source "{source}", column "{column}", data row {row}: {value} is not a label of this {task} model ({reason})',
    retryable: false,
    fix: "A classification label must be one of the model's classes, written as the training target was (the classes are listed in the message; a false/true model also reads yes/no, y/n, t/f and 1/0); a regression label must be a finite number; an instance a whole number. Correct or remove the row; an empty label means the label has not arrived.",
  },
  MLOPS_ERR_MONITOR_METRIC_MISSING: {
    message:
      'Model "{model}" version {version} has no evaluation value of its gate metric "{metric}" to compare the live metric with',
    retryable: false,
    fix: 'Register the version through the trainingPipeline, whose evaluation records the gate metric; or check labels on a version that has one.',
  },
  MLOPS_ERR_TEMPORAL_UNREACHABLE: {
    message: 'The Temporal server at {address} did not answer: {reason}',
    retryable: true,
    fix: 'Start a server (npm run temporal:server, or npm run demo -- --keep) or point TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TLS settings) at yours; docs/configuration.md lists the connection variables.',
  },
  MLOPS_ERR_CONTROLLER_NOT_RUNNING: {
    message: 'No model controller is running for model "{model}" (workflow id {workflowId})',
    retryable: false,
    fix: 'Start it with `npm run models -- start <model> --training <training-input.json>` (or the `temporal workflow start --type modelController` line in the README), then run the command again; `npm run models -- status <model>` shows it.',
  },
  MLOPS_ERR_CONTROLLER_NO_WORKER: {
    message:
      'The controller {workflowId} runs on task queue "{taskQueue}", which no worker polls: it cannot answer `npm run models -- {command}` until one does',
    retryable: true,
    fix: 'Start a pipeline worker on that task queue (`npm run worker:pipeline` polls mlops-pipeline), then run the command again. A controller started on a queue no worker will poll (a mistyped `--task-queue`) must be stopped (`temporal workflow terminate --workflow-id model-controller-<model> --reason "…"`) and started again on the right one. (Raised only when the server lists no poller: it lists a worker for a while after its last poll, so a worker stopped or killed in the last few minutes gives MLOPS_ERR_CONTROLLER_NO_ANSWER instead.)',
  },
  MLOPS_ERR_CONTROLLER_TASK_FAILING: {
    message:
      'The controller {workflowId} answers nothing: a worker runs it, and its workflow task has failed {attempts} time(s) in a row, last with "{failure}". `npm run models -- {command}` was not answered',
    retryable: false,
    fix: "Read the failure in `temporal workflow show --workflow-id {workflowId}` (WorkflowTaskFailed) and the pipeline worker's log. A worker of another version of the project than the one that started the controller cannot replay it: run the matching version. Otherwise report it as a bug; `temporal workflow reset` to the event before the first failure, or terminate and `npm run models -- start` (it recalls rolled-back versions from the deployment history), gets the model a working controller again.",
    fixParams: { workflowId: 'model-controller-<model>' },
  },
  MLOPS_ERR_CONTROLLER_NO_ANSWER: {
    message:
      'The controller {workflowId} did not answer within {seconds} s: no worker on its task queue "{taskQueue}" runs it now (the server still lists a worker stopped or killed in the last few minutes as polling). `npm run models -- {command}` {consequence}',
    retryable: true,
    fix: 'Start a pipeline worker on that task queue (`npm run worker:pipeline` polls mlops-pipeline), then run the command again. If one is running, read its log: it may not reach the Temporal server. A slow worker or server can be given longer with --timeout <seconds> (default 30).',
  },
  MLOPS_ERR_CONTROLLER_UPDATE_UNANSWERED: {
    message:
      '`npm run models -- {command}` was sent to the controller {workflowId} (update id {updateId}) and not answered within {seconds} s. It is not withdrawn (Temporal has no way to withdraw an update): the server holds it, and it may still be applied when a worker on task queue "{taskQueue}" picks the controller up again, or when the step it waits on ends',
    retryable: false,
    fix: 'Do not send it again before you know whether it was applied: `npm run models -- history <model>` shows it once applied, and `temporal workflow update describe --workflow-id <workflow id> --update-id <update id>` shows where it is. If no worker runs on that task queue, start one (`npm run worker:pipeline` polls mlops-pipeline): the controller then carries the update out.',
  },
  MLOPS_ERR_MONITOR_CHECK_UNANSWERED: {
    message:
      'Monitoring check {workflowId} did not end within {seconds} s (--timeout); it goes on: its worker may be down (one stopped or killed in the last few minutes still counts as polling task queue "{taskQueue}"), or its window takes longer. See how it ends: temporal workflow result --workflow-id {workflowId}',
    retryable: false,
    fix: 'Start a pipeline worker on that task queue if none runs, or give a longer --timeout for a large window; starting the check again runs it a second time.',
  },
  MLOPS_ERR_MONITOR_NO_WORKER: {
    message:
      'No worker polls task queue "{taskQueue}": `npm run monitoring -- check` would wait for its monitorModel run for ever, so none was started',
    retryable: true,
    fix: 'Start the pipeline worker (`npm run worker:pipeline` polls mlops-pipeline), or give --task-queue the queue your pipeline workers poll, then run the check again.',
  },
  MLOPS_ERR_CONTROLLER_START_CONFLICT: {
    message:
      'The controller {workflowId} is already running (run {runId}) and was not changed (it follows alias {alias}); the options given differ from it:\n{differences}',
    retryable: false,
    fix: 'A running controller keeps its alias and task queue: leave --alias and --task-queue out to use the running one, or stop it (`temporal workflow terminate --workflow-id model-controller-<model> --reason "…"`: its history stays in Temporal, its deployment in the registry) and run `npm run models -- start` again. Servers, thresholds and muted features change on the running controller with `npm run models -- servers|thresholds|mute|unmute <model> …`.',
  },
  MLOPS_ERR_CONTROLLER_WORKFLOW_ID: {
    message:
      'A model controller for "{model}" must run under workflow id {expected}, not {workflowId}: monitoring signals that id, and two controllers of one model would undo each other\'s deployment moves',
    retryable: false,
    fix: 'Start it with `npm run models -- start <model> --training <training-input.json>`, or with `--workflow-id {expected}` on `temporal workflow start --type modelController`; a controller already running under that id is the one to use (`npm run models -- status <model>`).',
    fixParams: { expected: 'model-controller-<model>' },
  },
  MLOPS_ERR_CLI_ARGUMENT_INVALID: {
    message: 'Argument {argument} of `npm run {script} -- {command}` is invalid: {reason}',
    retryable: false,
    fix: 'Correct the argument as the message says (`--help` prints the usage): docs/monitoring.md ("The monitoring run") describes the options of `npm run monitoring`, docs/controller.md the controller input of `npm run models`, and the README shows an example of each command.',
  },
  MLOPS_ERR_DEV_TEMPORAL_CLI_MISSING: {
    message: 'No Temporal CLI was found ({searched}) and Go {goRequirement} is not available to build it',
    retryable: false,
    fix: 'Install Go 1.25 or newer (the first run builds the CLI), or set TEMPORAL_CLI_PATH to a temporal binary (v1.5.1).',
  },
  MLOPS_ERR_DEV_GO_TOOL_BUILD_FAILED: {
    message: 'Building {tool} with Go failed (exit {exit}); log: {log}',
    retryable: false,
    fix: 'Read the log; the Go module proxy must be reachable. Or point the tool variable (e.g. TEMPORAL_CLI_PATH) at a prebuilt binary.',
  },
  MLOPS_ERR_DEV_TOOL_PATH_INVALID: {
    message:
      '{variable}={path} cannot be run: {reason}. It names the {tool} binary to use instead of one on PATH or in the cache, so no other is tried',
    retryable: false,
    fix: 'Point {variable} at the {tool} binary, or unset it to use the one on PATH or in the cache (built from Go modules when there is none).',
    fixParams: { variable: 'the variable', tool: 'tool' },
  },
  MLOPS_ERR_DEV_TOOL_MISSING: {
    message: 'No {tool} binary was found ({searched}) and Go {goRequirement} is not available to build it',
    retryable: false,
    fix: 'Install Go 1.25 or newer (the first run builds the tool), or point the variable named above at a prebuilt binary.',
  },
  MLOPS_ERR_DEV_SERVER_STATE_IN_USE: {
    message:
      'A Temporal dev server (process {pid}, {address}) already runs on the state folder {stateDir}: a second one on the same SQLite file would share its workflows and break it when it stops',
    retryable: false,
    fix: 'Use the running stack (its address and Web UI are above, or in {lockFile}), stop it (Ctrl-C where it runs, or kill {pid}), or give this one its own folder with MLOPS_STATE_DIR=<folder>.',
    fixParams: { lockFile: 'temporal.lock in the state folder', pid: '<pid>' },
  },
  MLOPS_ERR_DEV_SERVER_ORPHANED: {
    message:
      'A Temporal dev server (process {pid}, {address}) still holds the state folder {stateDir}, but the process that started it ({owner}) is gone: it was left behind by a killed demo or temporal:server, with no workers and no model server',
    retryable: false,
    fix: 'Stop it with kill {pid}, then start again; the runs in its SQLite file go on at the next start.',
    fixParams: { pid: '<pid>' },
  },
  MLOPS_ERR_DEV_SERVER_EXITED: {
    message: 'The Temporal dev server (process {pid}, {address}) exited unexpectedly ({how}); its log: {logFile}',
    retryable: false,
    fix: 'Read the end of the log it names (a server killed by a signal writes nothing there), then start again; the runs in its SQLite file go on at the next start.',
  },
  MLOPS_ERR_DEV_SERVER_START_FAILED: {
    message: 'The {server} did not become ready at {address}: {reason}',
    retryable: true,
    fix: 'Read the server log it names; a stale SQLite file from another CLI version can be removed with its state folder.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;
export type ErrorParams = Record<string, string | number | boolean | undefined>;

/** Details attached to every catalogued failure (readable from `failure.details[0]`). */
export interface MlopsErrorDetails {
  code: ErrorCode;
  fix: string;
  params: ErrorParams;
}

/** Fills a template's `{name}` placeholders; unknown names stay visible so a missing param is noticed. */
export function formatErrorMessage(code: ErrorCode, params: ErrorParams): string {
  const template = errorCatalogue[code].message;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

/** The code's fix with its `fixParams` placeholders filled (a param, else the default); other braces stay. */
export function formatFix(code: ErrorCode, params: ErrorParams): string {
  const spec: ErrorSpec = errorCatalogue[code];
  const defaults = spec.fixParams ?? {};
  return spec.fix.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(defaults, name) ? String(params[name] ?? defaults[name]) : whole,
  );
}

/**
 * Builds the failure for a catalogued error. The failure `type` is the code, so workflows and tests branch on it,
 * and `nonRetryable` comes from the catalogue, so Temporal does not retry what cannot succeed.
 */
export function mlopsError(code: ErrorCode, params: ErrorParams = {}, cause?: Error): ApplicationFailure {
  const fix = formatFix(code, params);
  const details: MlopsErrorDetails = { code, fix, params };
  return ApplicationFailure.create({
    type: code,
    message: `${code}: ${formatErrorMessage(code, params)}\nFix: ${fix}`,
    nonRetryable: !errorCatalogue[code].retryable,
    details: [details],
    cause,
  });
}

/** True when `err` is a catalogued failure with the given code (or any catalogued code when none is given). */
export function isMlopsError(err: unknown, code?: ErrorCode): err is ApplicationFailure {
  if (!(err instanceof ApplicationFailure) || typeof err.type !== 'string') return false;
  return code === undefined ? err.type in errorCatalogue : err.type === code;
}
