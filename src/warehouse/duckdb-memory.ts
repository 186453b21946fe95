/**
 * Memory one DuckDB instance may hold before it spills to disk: without a limit the buffer pool may take 80% of RAM and
 * the worker's memory grows with the data instead of staying flat. Each of several instances gets the whole limit:
 * each does work one instance did before (a CSV reader's buffers, a Parquet row group), which a share might not fit.
 * The composition root sets it from MLOPS_DATA_MEMORY_LIMIT ({@link setDuckDbMemoryLimit}). Kept apart from
 * ./duckdb, so that a process opening no DuckDB (the model server) never loads its native library.
 */
let memoryLimit = '512MB';

/** The memory limit of each DuckDB instance opened now (MLOPS_DATA_MEMORY_LIMIT). */
export function duckDbMemoryLimit(): string {
  return memoryLimit;
}

/** Sets the memory limit of every DuckDB instance opened from now on (the composition root, from the config). */
export function setDuckDbMemoryLimit(limit: string): void {
  memoryLimit = limit;
}
