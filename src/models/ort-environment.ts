/**
 * onnxruntime's process-wide settings, applied before its native library loads: `onnx-model.ts` imports this module
 * ahead of `onnxruntime-node`.
 *
 * Telemetry off. onnxruntime's Linux build carries a telemetry client that, in every process that creates a session,
 * starts a thread, writes `mat-debug-<pid>.log` and `.ses` into the temp folder (`TMPDIR`), a device id and an event
 * database under `~/.cache/Microsoft`, and tries HTTPS uploads (all of it skipped only where `CI` is set). A model
 * server, an evaluation step or a CLI of this project sends nothing anywhere, so `ORT_DISABLE_TELEMETRY` is set to 1
 * unless the environment already sets it.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export {};
